// KeyActivation: the offline root signs an intermediate CA certificate, under dual control and split knowledge.
//   Preparation: the target (a root key a RootKeyGeneration ceremony made), its certificate and the CSR are checked;
//     the ceremony's ephemeral recipient key is made and its certificate published (status.recipientCertificate).
//   Quorum: M custodians approve, each with their share re-encrypted to that certificate in the approval.
//   Share Reconstruction: the shares are decrypted and combined in memory and checked against the authenticator
//     the root ceremony left, BEFORE anything touches the token: a wrong or tampered share never spends a PIN try.
//   Intermediate Certificate Signing: login with the derived PIN, sign, verify, logout.
//   Verification & Audit, Secure Storage: recorded; the secret, PINs and shares zeroed.
// The recipient key exists only in this process's memory: a restart loses it and the ceremony fails cleanly
// (nothing is lost: the custodians still hold their root ceremony shares; run a new ceremony).
import { X509Certificate, createHash } from 'node:crypto';
import type { KeyBackendObject } from '../../api/v1alpha1/keybackend.ts';
import { INTERMEDIATE_VALIDITY_DEFAULT } from '../../api/v1alpha1/keyceremony.ts';
import type { KeyCeremonyApprovalObject } from '../../api/v1alpha1/keyceremonyapproval.ts';
import type { ManagedKeyObject } from '../../api/v1alpha1/managedkey.ts';
import type { KeyBackend } from '../../backends/backend.ts';
import { openBackend } from '../../backends/registry.ts';
import {
  ACTIVATION_SECRET_BYTES,
  matchesAuthenticator,
  tokenPins,
  wipePins,
} from '../../ceremony/activation.ts';
import type { SecretPurpose } from '../../ceremony/activation.ts';
import { CmsDecryptError, decryptEnveloped } from '../../ceremony/cms-decrypt.ts';
import { checkIntermediateCsr } from '../../ceremony/csr.ts';
import type { IntermediateRequest } from '../../ceremony/csr.ts';
import { fromPem } from '../../ceremony/der-reader.ts';
import { signIntermediate } from '../../ceremony/intermediate.ts';
import { newRecipient } from '../../ceremony/recipient.ts';
import type { CeremonyRecipient } from '../../ceremony/recipient.ts';
import { combineShares } from '../../ceremony/shares.ts';
import type { ApiAccess } from '../../kube/access.ts';
import { isNotFound } from '../../kube/errors.ts';
import { builtinResources } from '../../kube/resource.ts';
import { formatTime } from '../../runtime/clock.ts';
import { parseDuration } from '../../runtime/duration.ts';
import type { ConfigMap } from '../managedkey/distribution.ts';
import { keyIdentity } from '../managedkey/versions.ts';
import type { CeremonyRun } from './context.ts';
import type { Finding } from './findings.ts';
import {
  AUTHENTICATOR_ANNOTATION,
  CEREMONY_UID_ANNOTATION,
  CeremonyRefusal,
  managedKeyType,
  publishCertificate,
  refuse,
  targetManagedKey,
} from './root-generation.ts';
import { CEREMONY_LABEL } from './transcript-store.ts';

/**
 * A share in the shamir-secret-sharing format: one byte per secret byte, then its x coordinate. An activation secret
 * and a recovery KEK both have 32 bytes.
 */
const SHARE_BYTES = ACTIVATION_SECRET_BYTES + 1;

/** The root's ManagedKey and its root ceremony's transcript ConfigMap, each read by name. */
export const activationAccess: readonly ApiAccess[] = [
  { resource: managedKeyType, verbs: ['get'] },
  { resource: builtinResources.configMaps, verbs: ['get'] },
];

/** Ephemeral recipient keys by ceremony uid: in memory only, never written anywhere. */
const recipients = new Map<string, CeremonyRecipient>();

/** The root key a ceremony acts on, as the root ceremony left it. */
export interface RootTarget {
  readonly managedKey: ManagedKeyObject;
  readonly keyBackend: KeyBackendObject;
  /** The root certificate, DER. */
  readonly certificate: Buffer;
  readonly certificatePem: string;
  readonly authenticator: string;
  /** The uid of the root ceremony: the salt of the PINs and the authenticator. */
  readonly rootCeremonyUid: string;
}

/** The ceremony's target, checked: a root key made by a RootKeyGeneration ceremony, with its certificate. */
export async function resolveRootTarget(
  run: CeremonyRun,
  keyBackends: { get(namespace: string, name: string): KeyBackendObject | undefined },
): Promise<RootTarget> {
  const { ceremony } = run;
  const namespace = ceremony.metadata.namespace ?? '';
  const name = ceremony.spec.target?.managedKeyRef.name ?? '';
  const managedKey = await targetManagedKey(run);
  const annotations = managedKey.metadata.annotations ?? {};
  const authenticator = annotations[AUTHENTICATOR_ANNOTATION];
  const rootCeremonyUid = annotations[CEREMONY_UID_ANNOTATION];
  const rootCeremony = managedKey.metadata.labels?.[CEREMONY_LABEL];
  if (!authenticator || !rootCeremonyUid || !rootCeremony)
    return refuse(
      'TargetNotOffline',
      `ManagedKey ${namespace}/${name} was not made by a RootKeyGeneration ceremony: it has no activation authenticator`,
    );
  if (managedKey.spec.backendRef.name !== ceremony.spec.backendRef.name)
    return refuse(
      'InvalidSpec',
      `ManagedKey ${namespace}/${name} is in KeyBackend ${managedKey.spec.backendRef.name}, not ${ceremony.spec.backendRef.name}`,
    );
  const keyBackend = keyBackends.get('', managedKey.spec.backendRef.name);
  if (keyBackend?.spec.pkcs11?.activation !== 'Ceremony')
    return refuse(
      'BackendNotOffline',
      `KeyBackend ${managedKey.spec.backendRef.name} is missing or not an offline root (activation: Ceremony)`,
    );
  const mapName = `${rootCeremony}-certificate`;
  let map: ConfigMap;
  try {
    map = await run.context.client.get<ConfigMap>(builtinResources.configMaps, mapName, namespace);
  } catch (error) {
    if (isNotFound(error))
      return refuse(
        'RootCertificateNotFound',
        `the root certificate ConfigMap ${namespace}/${mapName} is missing`,
      );
    throw error;
  }
  const certificatePem = map.data?.['ca.crt'] ?? '';
  const certificate = fromPem(certificatePem, 'CERTIFICATE');
  const spki = new X509Certificate(certificate).publicKey.export({ format: 'der', type: 'spki' });
  const fingerprint = `SHA256:${createHash('sha256').update(spki).digest('base64').replace(/=+$/, '')}`;
  if (
    map.metadata.annotations?.[CEREMONY_UID_ANNOTATION] !== rootCeremonyUid ||
    fingerprint !== managedKey.status?.publicKeyFingerprint
  )
    return refuse(
      'RootCertificateMismatch',
      `ConfigMap ${namespace}/${mapName} is not the certificate of the root key ${name} (another ceremony, or another key)`,
    );
  return { managedKey, keyBackend, certificate, certificatePem, authenticator, rootCeremonyUid };
}

/** What is wrong with a KeyActivation or KeyDestruction before anything begins (the target, the CSR), or undefined. */
export async function targetProblem(
  run: CeremonyRun,
  keyBackends: { get(namespace: string, name: string): KeyBackendObject | undefined },
): Promise<Finding | undefined> {
  try {
    await resolveRootTarget(run, keyBackends);
    if (run.ceremony.spec.type === 'KeyActivation') checkIntermediateCsr(run.ceremony.spec.target?.csr ?? '');
  } catch (error) {
    if (error instanceof CeremonyRefusal) return { reason: error.reason, message: error.message };
    if (error instanceof Error && error.name === 'CsrError')
      return { reason: 'CsrRefused', message: error.message };
    throw error;
  }
  return undefined;
}

/** The ceremony's recipient: made and published at Preparation, or refused if this process no longer has it. */
export function ensureRecipient(run: CeremonyRun): CeremonyRecipient {
  const { ceremony, status } = run;
  const uid = ceremony.metadata.uid ?? '';
  const known = recipients.get(uid);
  if (known) return known;
  if (status.recipientCertificate !== undefined)
    refuse(
      'RecipientKeyLost',
      "the operator restarted, and the ceremony's recipient key lived only in its memory: the shares encrypted to it cannot be opened. Nothing is lost (each custodian still holds their share); run a new ceremony",
    );
  const deadline =
    Date.parse(ceremony.metadata.creationTimestamp ?? '') + parseDuration(ceremony.spec.deadline);
  const recipient = newRecipient(
    `Keyward ceremony ${ceremony.metadata.namespace ?? ''}/${ceremony.metadata.name ?? ''} share recipient`,
    new Date(Math.floor(run.now / 1000) * 1000),
    new Date(deadline),
  );
  recipients.set(uid, recipient);
  status.recipientCertificate = recipient.pem;
  return recipient;
}

/** Forgets the recipient key of a ceremony that ended. */
export function dropRecipient(uid: string): void {
  recipients.delete(uid);
}

function* combinations<T>(items: readonly T[], size: number, start = 0): Generator<T[]> {
  if (size === 0) {
    yield [];
    return;
  }
  for (let i = start; i <= items.length - size; i += 1) {
    for (const rest of combinations(items, size - 1, i + 1)) yield [items[i] as T, ...rest];
  }
}

export interface Reconstruction {
  readonly secret?: Buffer;
  /** Why the shares do not (yet) rebuild the secret; safe to show: it names custodians, never a share. */
  readonly problem?: Finding;
  readonly custodians: readonly string[];
}

/** What the shares must rebuild: a secret whose authenticator (HKDF, public) is known. */
export interface SecretCheck {
  readonly salt: string;
  readonly authenticator: string;
  readonly purpose: SecretPurpose;
  /** For messages: what the secret is, and what was spared by checking it first. */
  readonly what: string;
  readonly untouched: string;
}

/** An offline root's activation secret, as the root ceremony left its authenticator. */
export function activationCheck(target: RootTarget): SecretCheck {
  return {
    salt: target.rootCeremonyUid,
    authenticator: target.authenticator,
    purpose: 'activation',
    what: 'the activation data of the root ceremony',
    untouched: 'the token was not touched, no PIN try was spent',
  };
}

/**
 * Decrypts the shares of the counted approvals and looks for M of them that rebuild the secret, checked against its
 * authenticator. Touches no HSM. The secret returned is the caller's to zero.
 */
export async function reconstructSecret(
  run: CeremonyRun,
  counted: ReadonlyMap<string, KeyCeremonyApprovalObject>,
  check: SecretCheck,
): Promise<Reconstruction> {
  const recipient = ensureRecipient(run);
  const threshold = run.ceremony.spec.quorum.threshold;
  const shares: { custodian: string; share: Buffer }[] = [];
  const problems: string[] = [];
  try {
    for (const [custodian, approval] of counted) {
      if (!approval.spec.share) {
        problems.push(`${custodian} approved without a share`);
        continue;
      }
      try {
        const share = decryptEnveloped(approval.spec.share, recipient);
        if (share.length !== SHARE_BYTES) {
          share.fill(0);
          problems.push(
            `${custodian}'s share has the wrong length (encrypt the share file as it is, with openssl cms -encrypt -binary)`,
          );
        } else shares.push({ custodian, share });
      } catch (error) {
        if (!(error instanceof CmsDecryptError)) throw error;
        problems.push(`${custodian}'s share: ${error.message}`);
      }
    }
    if (shares.length < threshold) {
      return {
        custodians: shares.map((s) => s.custodian),
        problem: {
          reason: 'AwaitingShares',
          message: `${shares.length} of ${threshold} shares can be opened${problems.length > 0 ? `; ${problems.join('; ')}` : ''}`,
        },
      };
    }
    for (const subset of combinations(shares, threshold)) {
      const secret = await combineShares(subset.map((s) => s.share));
      if (matchesAuthenticator(secret, check.salt, check.authenticator, check.purpose))
        return { secret, custodians: subset.map((s) => s.custodian) };
      secret.fill(0);
    }
    return {
      custodians: shares.map((s) => s.custodian),
      problem: {
        reason: 'SharesDoNotMatch',
        message: `no ${threshold} of the shares of ${shares.map((s) => s.custodian).join(', ')} rebuild ${check.what} (a share is wrong or was altered); ${check.untouched}${problems.length > 0 ? `; ${problems.join('; ')}` : ''}`,
      },
    };
  } finally {
    for (const { share } of shares) share.fill(0);
  }
}

function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Logs in with the PIN derived from `secret` (zeroed here), signs the intermediate, logs out. */
export async function runActivation(run: CeremonyRun, target: RootTarget, secret: Buffer): Promise<void> {
  const { ceremony, status } = run;
  const spec = ceremony.spec.target;
  const pins = tokenPins(secret, target.rootCeremonyUid);
  secret.fill(0);
  let backend: KeyBackend | undefined;
  let request: IntermediateRequest;
  try {
    request = checkIntermediateCsr(spec?.csr ?? '');
    const root = new X509Certificate(target.certificate);
    const notBefore = new Date(Math.floor(run.now / 1000) * 1000);
    const wanted = notBefore.getTime() + parseDuration(spec?.validity ?? INTERMEDIATE_VALIDITY_DEFAULT);
    const notAfter = new Date(Math.min(wanted, Date.parse(root.validTo)));
    const version = target.managedKey.status?.currentVersion ?? 1;
    const entry = target.managedKey.status?.versions?.find((v) => v.version === version);
    const identity = keyIdentity(target.managedKey, version, entry);
    await run.step(
      'Intermediate Certificate Signing',
      'Running',
      {
        managedKey: target.managedKey.metadata.name ?? '',
        csr: sha256(fromPem(spec?.csr ?? '', 'CERTIFICATE REQUEST')),
      },
      'logging in to the token and signing the intermediate',
    );
    const credential = Buffer.from(pins.user);
    try {
      backend = await openBackend(target.keyBackend.spec, new Map([['pin', credential]]));
    } finally {
      credential.fill(0); // the backend keeps its own copy, which close() zeroes
    }
    const signer = backend;
    const signed = await signIntermediate(
      { algorithm: target.managedKey.spec.algorithm, certificate: target.certificate },
      request,
      {
        pathLength: spec?.pathLength ?? 0,
        crlDistributionPoint: spec?.crlDistributionPoint ?? '',
        notBefore,
        notAfter,
      },
      (input) => signer.sign(identity, input, { ecdsaFormat: 'der' }),
    );
    await backend.close();
    backend = undefined;
    const fingerprint = `SHA256:${createHash('sha256').update(signed.der).digest('base64').replace(/=+$/, '')}`;
    const configMapName = await publishCertificate(run, {
      'ca.crt': signed.pem,
      'issuer.crt': target.certificatePem,
      fingerprint,
    });
    status.certificate = {
      configMapName,
      fingerprint,
      notBefore: formatTime(notBefore.getTime()),
      notAfter: formatTime(notAfter.getTime()),
    };
    await run.step(
      'Intermediate Certificate Signing',
      'Done',
      { serial: signed.serial, configMap: configMapName, loggedOut: true },
      `intermediate signed by the root in the token, serial ${signed.serial}, valid until ${formatTime(notAfter.getTime())}; logged out`,
    );
    await run.step(
      'Verification & Audit',
      'Done',
      {
        certificate: sha256(signed.der),
        certificateFingerprint: fingerprint,
        issuer: sha256(target.certificate),
        // signIntermediate verified the signature with the root certificate's key and the issuer chain.
        chainVerified: true,
      },
      `intermediate ${fingerprint} verified against the root certificate`,
    );
  } finally {
    await backend?.close();
    wipePins(pins);
  }
  dropRecipient(ceremony.metadata.uid ?? '');
  await run.step(
    'Secure Storage',
    'Done',
    { sessionsClosed: true, loggedOut: true, activationDataInMemory: false, recipientKeyDiscarded: true },
    'sessions closed, token logged out, activation secret, PINs and shares zeroed, recipient key discarded',
  );
}
