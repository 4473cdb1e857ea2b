// The people in a ceremony, as the operator knows them: a name and a public key. The key decides how their
// signatures are checked and whether a share can be encrypted to them.
import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { spkiFingerprint } from '../backends/public-key.ts';

export type ParticipantKeyType = 'ec-p256' | 'ec-p384' | 'ed25519' | 'rsa';

export interface ParticipantKey {
  readonly name: string;
  readonly type: ParticipantKeyType;
  readonly key: KeyObject;
  readonly spki: Buffer;
  /** `SHA256:<base64>` of the SubjectPublicKeyInfo, as ManagedKey fingerprints are. */
  readonly fingerprint: string;
}

/** Smallest RSA modulus a participant may use. */
export const MIN_RSA_BITS = 2048;

export class ParticipantKeyError extends Error {
  override name = 'ParticipantKeyError';
}

export function participantKey(participant: { name: string; publicKey: string }): ParticipantKey {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: participant.publicKey, format: 'pem' });
  } catch {
    throw new ParticipantKeyError(`the public key of ${participant.name} is not a PEM SubjectPublicKeyInfo`);
  }
  const spki = key.export({ format: 'der', type: 'spki' });
  return {
    name: participant.name,
    type: keyType(participant.name, key),
    key,
    spki,
    fingerprint: spkiFingerprint(spki),
  };
}

function keyType(name: string, key: KeyObject): ParticipantKeyType {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (details.namedCurve === 'prime256v1') return 'ec-p256';
      if (details.namedCurve === 'secp384r1') return 'ec-p384';
      break;
    case 'ed25519':
      return 'ed25519';
    case 'rsa':
      if ((details.modulusLength ?? 0) >= MIN_RSA_BITS) return 'rsa';
      throw new ParticipantKeyError(
        `the RSA key of ${name} has ${String(details.modulusLength)} bits; at least ${MIN_RSA_BITS} are needed`,
      );
  }
  throw new ParticipantKeyError(
    `the key of ${name} is ${key.asymmetricKeyType ?? 'unknown'}${details.namedCurve ? ` on ${details.namedCurve}` : ''}; use EC P-256, EC P-384, Ed25519 or RSA`,
  );
}

/** Whether a share can be encrypted to this key (CMS key agreement for EC, key transport for RSA). */
export function canReceiveShare(key: ParticipantKey): boolean {
  return key.type !== 'ed25519';
}
