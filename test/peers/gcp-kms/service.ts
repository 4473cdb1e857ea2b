// The KeyManagementService methods Keyward uses, on the real request and response messages (google.cloud.kms.v1),
// with the CRC32C checks of the API reference: a checksum sent with a payload is verified (INVALID_ARGUMENT when it
// does not match) and reported back as verified_*_crc32c; every payload returned carries its own checksum.

import { status } from '@grpc/grpc-js';
import type { protos } from '@google-cloud/kms';
import { crc32c } from '../../../src/backends/gcp-kms/crc32c.ts';
import {
  ALGORITHMS,
  aesDecrypt,
  aesEncrypt,
  ciphertextVersion,
  hmac,
  hmacMatches,
  oaepDecrypt,
  publicPem,
  signData,
  signDigest,
} from './key-material.ts';
import { type CryptoKeyRecord, KmsError, type KmsState, type VersionRecord } from './state.ts';

type Message = Record<string, unknown>;
export type Handler = (request: Message) => Message;

interface Int64Value {
  readonly value?: string | number | null;
}

function timestamp(ms: number | undefined): Message | null {
  return ms === undefined ? null : { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

function bytes(value: unknown): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.alloc(0);
}

/** Whether a checksum was sent, after checking it: a wrong one fails the call as Cloud KMS does. */
function checked(data: Buffer, wrapper: unknown, field: string): boolean {
  const value = (wrapper as Int64Value | null | undefined)?.value;
  if (value === undefined || value === null) return false;
  if (String(value) !== String(crc32c(data))) {
    throw new KmsError(
      status.INVALID_ARGUMENT,
      `The checksum in field ${field}_crc32c did not match the data in field ${field}.`,
    );
  }
  return true;
}

function checksum(data: Buffer): Message {
  return { value: crc32c(data) };
}

export function versionMessage(key: CryptoKeyRecord, version: VersionRecord): Message {
  return {
    name: `${key.name}/cryptoKeyVersions/${version.number}`,
    state: version.state,
    protectionLevel: key.protectionLevel,
    algorithm: key.algorithm,
    createTime: timestamp(version.createTime),
    generateTime: version.state === 'PENDING_GENERATION' ? null : timestamp(version.generateAt),
    destroyTime: timestamp(version.destroyTime),
    destroyEventTime: timestamp(version.destroyEventTime),
    // No attestation: a real one is a statement signed by the HSM vendor's (Marvell) and Google's chains, which this
    // peer cannot produce.
    attestation: null,
    importJob: '',
  };
}

function cryptoKeyMessage(key: CryptoKeyRecord): Message {
  const primary = key.primary === undefined ? undefined : key.versions[key.primary - 1];
  return {
    name: key.name,
    purpose: key.purpose,
    createTime: timestamp(key.createTime),
    primary: primary ? versionMessage(key, primary) : null,
    versionTemplate: { algorithm: key.algorithm, protectionLevel: key.protectionLevel },
    labels: key.labels,
    importOnly: false,
    destroyScheduledDuration: { seconds: Math.floor(key.destroyScheduledMs / 1000), nanos: 0 },
  };
}

function durationMs(duration: unknown): number | undefined {
  const value = duration as { seconds?: string | number; nanos?: number } | null | undefined;
  if (!value) return undefined;
  return Number(value.seconds ?? 0) * 1000 + Math.floor((value.nanos ?? 0) / 1e6);
}

function versionName(key: CryptoKeyRecord, version: VersionRecord): string {
  return `${key.name}/cryptoKeyVersions/${version.number}`;
}

/** The handlers by method name (as in the service definition), over one state. */
export function kmsService(state: KmsState): Readonly<Record<string, Handler>> {
  return {
    GetKeyRing: ({ name }) => ({ name, createTime: timestamp(state.keyRing(String(name))) }),
    CreateKeyRing: ({ parent, keyRingId }) => {
      const name = state.createKeyRing(String(parent), String(keyRingId));
      return { name, createTime: timestamp(state.now()) };
    },
    GetCryptoKey: ({ name }) => cryptoKeyMessage(state.cryptoKey(String(name))),
    CreateCryptoKey: ({ parent, cryptoKeyId, cryptoKey, skipInitialVersionCreation }) => {
      const spec = (cryptoKey ?? {}) as protos.google.cloud.kms.v1.ICryptoKey;
      const template = spec.versionTemplate ?? {};
      const purpose = String(spec.purpose ?? 'CRYPTO_KEY_PURPOSE_UNSPECIFIED');
      const given = String(template.algorithm ?? 'CRYPTO_KEY_VERSION_ALGORITHM_UNSPECIFIED');
      const algorithm =
        given === 'CRYPTO_KEY_VERSION_ALGORITHM_UNSPECIFIED' && purpose === 'ENCRYPT_DECRYPT'
          ? 'GOOGLE_SYMMETRIC_ENCRYPTION'
          : given;
      const protectionLevel = String(template.protectionLevel ?? 'PROTECTION_LEVEL_UNSPECIFIED');
      const key = state.createCryptoKey(String(parent), String(cryptoKeyId), {
        purpose,
        algorithm,
        protectionLevel: protectionLevel === 'PROTECTION_LEVEL_UNSPECIFIED' ? 'SOFTWARE' : protectionLevel,
        labels: spec.labels ?? {},
        destroyScheduledMs: durationMs(spec.destroyScheduledDuration),
        skipInitialVersionCreation: skipInitialVersionCreation === true,
      });
      return cryptoKeyMessage(key);
    },
    GetCryptoKeyVersion: ({ name }) => {
      const { key, version } = state.version(String(name));
      return versionMessage(key, version);
    },
    ListCryptoKeyVersions: ({ parent, filter, pageToken }) => {
      if (filter) throw new KmsError(status.UNIMPLEMENTED, 'this peer does not filter versions');
      if (pageToken)
        throw new KmsError(status.INVALID_ARGUMENT, 'this peer returns every version on one page');
      const key = state.cryptoKey(String(parent));
      return {
        cryptoKeyVersions: key.versions.map((version) => versionMessage(key, version)),
        nextPageToken: '',
        totalSize: key.versions.length,
      };
    },
    CreateCryptoKeyVersion: ({ parent }) => {
      const { key, version } = state.createVersion(String(parent));
      return versionMessage(key, version);
    },
    UpdateCryptoKeyVersion: ({ cryptoKeyVersion, updateMask }) => {
      const paths = (updateMask as { paths?: string[] } | null)?.paths ?? [];
      if (paths.length !== 1 || paths[0] !== 'state') {
        throw new KmsError(status.INVALID_ARGUMENT, 'this peer updates the state field only');
      }
      const update = (cryptoKeyVersion ?? {}) as protos.google.cloud.kms.v1.ICryptoKeyVersion;
      const { key, version } = state.setState(String(update.name), String(update.state));
      return versionMessage(key, version);
    },
    UpdateCryptoKeyPrimaryVersion: ({ name, cryptoKeyVersionId }) =>
      cryptoKeyMessage(state.setPrimary(String(name), String(cryptoKeyVersionId))),
    DestroyCryptoKeyVersion: ({ name }) => {
      const { key, version } = state.destroy(String(name));
      return versionMessage(key, version);
    },
    RestoreCryptoKeyVersion: ({ name }) => {
      const { key, version } = state.restore(String(name));
      return versionMessage(key, version);
    },
    GetPublicKey: ({ name }) => {
      const { key, version } = state.version(String(name));
      const pem = publicPem(version.material);
      if (pem === undefined) throw new KmsError(status.FAILED_PRECONDITION, `${key.name} is not asymmetric`);
      if (version.state !== 'ENABLED' && version.state !== 'DISABLED') {
        throw new KmsError(status.FAILED_PRECONDITION, `${String(name)} is in state ${version.state}`);
      }
      return {
        pem,
        pemCrc32c: checksum(Buffer.from(pem)),
        algorithm: key.algorithm,
        name: versionName(key, version),
        protectionLevel: key.protectionLevel,
      };
    },
    AsymmetricSign: ({ name, digest, digestCrc32c, data, dataCrc32c }) => {
      const { key, version } = state.usable(String(name), 'ASYMMETRIC_SIGN');
      const hash = ALGORITHMS[key.algorithm]?.digest;
      let signature: Buffer;
      let verifiedDigestCrc32c = false;
      let verifiedDataCrc32c = false;
      if (hash === undefined) {
        const message = bytes(data);
        verifiedDataCrc32c = checked(message, dataCrc32c, 'data');
        signature = signData(version.material, message);
      } else {
        const given = bytes((digest as Record<string, unknown> | null)?.[hash]);
        if (given.length === 0) {
          throw new KmsError(status.INVALID_ARGUMENT, `${key.algorithm} needs a ${hash} digest`);
        }
        verifiedDigestCrc32c = checked(given, digestCrc32c, 'digest');
        signature = signDigest(version.material, hash, given);
      }
      return {
        signature,
        signatureCrc32c: checksum(signature),
        verifiedDigestCrc32c,
        verifiedDataCrc32c,
        name: versionName(key, version),
        protectionLevel: key.protectionLevel,
      };
    },
    AsymmetricDecrypt: ({ name, ciphertext, ciphertextCrc32c }) => {
      const { key, version } = state.usable(String(name), 'ASYMMETRIC_DECRYPT');
      const verifiedCiphertextCrc32c = checked(bytes(ciphertext), ciphertextCrc32c, 'ciphertext');
      let plaintext: Buffer;
      try {
        plaintext = oaepDecrypt(version.material, bytes(ciphertext));
      } catch {
        throw new KmsError(status.INVALID_ARGUMENT, 'Decryption failed: the ciphertext is invalid.');
      }
      return {
        plaintext,
        plaintextCrc32c: checksum(plaintext),
        verifiedCiphertextCrc32c,
        protectionLevel: key.protectionLevel,
      };
    },
    MacSign: ({ name, data, dataCrc32c }) => {
      const { key, version } = state.usable(String(name), 'MAC');
      const verifiedDataCrc32c = checked(bytes(data), dataCrc32c, 'data');
      const mac = hmac(version.material, bytes(data));
      return {
        name: versionName(key, version),
        mac,
        macCrc32c: checksum(mac),
        verifiedDataCrc32c,
        protectionLevel: key.protectionLevel,
      };
    },
    MacVerify: ({ name, data, dataCrc32c, mac, macCrc32c }) => {
      const { key, version } = state.usable(String(name), 'MAC');
      const verifiedDataCrc32c = checked(bytes(data), dataCrc32c, 'data');
      const verifiedMacCrc32c = checked(bytes(mac), macCrc32c, 'mac');
      const success = hmacMatches(version.material, bytes(data), bytes(mac));
      return {
        name: versionName(key, version),
        success,
        verifiedDataCrc32c,
        verifiedMacCrc32c,
        verifiedSuccessIntegrity: success,
        protectionLevel: key.protectionLevel,
      };
    },
    Encrypt: ({ name, plaintext, plaintextCrc32c }) => {
      const text = String(name);
      const keyName = text.replace(/\/cryptoKeyVersions\/\d+$/, '');
      const key = state.cryptoKey(keyName);
      if (key.purpose !== 'ENCRYPT_DECRYPT')
        throw new KmsError(status.INVALID_ARGUMENT, `${keyName} does not encrypt`);
      const number = text === keyName ? key.primary : Number(text.slice(text.lastIndexOf('/') + 1));
      if (number === undefined)
        throw new KmsError(status.FAILED_PRECONDITION, `${keyName} has no primary version`);
      const { version } = state.usable(`${keyName}/cryptoKeyVersions/${number}`, 'ENCRYPT_DECRYPT');
      const verifiedPlaintextCrc32c = checked(bytes(plaintext), plaintextCrc32c, 'plaintext');
      const ciphertext = aesEncrypt(version.material, version.number, keyName, bytes(plaintext));
      return {
        name: versionName(key, version),
        ciphertext,
        ciphertextCrc32c: checksum(ciphertext),
        verifiedPlaintextCrc32c,
        protectionLevel: key.protectionLevel,
      };
    },
    Decrypt: ({ name, ciphertext, ciphertextCrc32c }) => {
      const key = state.cryptoKey(String(name));
      const data = bytes(ciphertext);
      checked(data, ciphertextCrc32c, 'ciphertext');
      const number = ciphertextVersion(data);
      const invalid = new KmsError(status.INVALID_ARGUMENT, 'Decryption failed: the ciphertext is invalid.');
      if (number === undefined || !key.versions[number - 1]) throw invalid;
      const { version } = state.usable(`${key.name}/cryptoKeyVersions/${number}`, 'ENCRYPT_DECRYPT');
      const plaintext = aesDecrypt(version.material, key.name, data);
      if (!plaintext) throw invalid;
      return {
        plaintext,
        plaintextCrc32c: checksum(plaintext),
        usedPrimary: key.primary === number,
        protectionLevel: key.protectionLevel,
      };
    },
  };
}
