// The GCP Cloud KMS backend against the Cloud KMS peer (test/peers/gcp-kms), through the real @google-cloud/kms
// client over gRPC. What the peer holds is read from its state directly, so the assertions do not rest on the
// backend's own view of itself; signatures are verified with node:crypto and the public key the backend hands out.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, randomUUID, verify } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { Algorithm, KeyUsage } from '../../../src/backends/algorithms.ts';
import type { KeyBackend, KeySpec } from '../../../src/backends/backend.ts';
import {
  AlreadyExistsError,
  BackendError,
  MisconfiguredError,
  PermissionDeniedError,
  RetryableError,
  UnsupportedError,
} from '../../../src/backends/errors.ts';
import { SERVICE_ACCOUNT_KEY, createClient } from '../../../src/backends/gcp-kms/client.ts';
import { gcpKmsFactory } from '../../../src/backends/gcp-kms/factory.ts';
import { GcpKmsBackend, type GcpKmsOptions } from '../../../src/backends/gcp-kms/gcp-kms-backend.ts';
import { cryptoKeyName } from '../../../src/backends/gcp-kms/names.ts';
import type { KeyIdentity } from '../../../src/backends/identity.ts';
import { type GcpKmsPeer, peerSpec, startGcpKmsPeer } from '../../support/gcp-kms-peer.ts';

const CHILD = fileURLToPath(new URL('../../support/gcp-kms-create-child.ts', import.meta.url));
const FAST_RETRIES: GcpKmsOptions = {
  callPolicy: { timeoutMs: 5_000, attempts: 3, initialBackoffMs: 20, maxBackoffMs: 100 },
};
const SIGNING: KeyUsage[] = ['sign', 'verify'];
/** What the controller sends once its own window is over; Cloud KMS then holds the version for its 24h. */
const DESTROY = { delaySeconds: 0 };

let peer: GcpKmsPeer;
let backend: KeyBackend;
const ring = 'keyward-conformance';

function identity(name: string, version = 1): KeyIdentity {
  return { uid: randomUUID(), namespace: 'team-a', name, version };
}

function keyName(key: KeyIdentity): string {
  return cryptoKeyName(backend.target.id, key);
}

/** The peer's versions of a key, as the peer holds them. */
function peerVersions(key: KeyIdentity): string[] {
  return peer.state.cryptoKey(keyName(key)).versions.map((v) => `${v.number}:${v.state}`);
}

async function open(
  spec = peerSpec(peer, ring),
  options: GcpKmsOptions = FAST_RETRIES,
): Promise<GcpKmsBackend> {
  return GcpKmsBackend.connect(createClient(spec, new Map()), spec, options);
}

before(async () => {
  peer = await startGcpKmsPeer({ pendingGenerationMs: 50 });
  backend = await open();
});

after(async () => {
  await backend.close();
  await peer.stop();
});

describe('key ring and capabilities', () => {
  it('creates the key ring when it is missing and opens it again when it exists', async () => {
    assert.ok(peer.state.keyRings.has(backend.target.id));
    assert.equal(
      backend.target.id,
      'projects/keyward-test/locations/europe-west1/keyRings/keyward-conformance',
    );
    const again = await gcpKmsFactory.open(peerSpec(peer, ring), new Map());
    assert.equal(again.target.id, backend.target.id);
    const health = await again.health();
    assert.equal(health.info.model, 'Cloud HSM');
    assert.equal(health.info.tokenLabel, ring);
    await again.close();
  });

  it('offers what Cloud KMS has, without P-521, and schedules destruction for destroyScheduledDuration', () => {
    const capabilities = backend.capabilities();
    assert.deepEqual([...capabilities.algorithms].sort(), [
      'AES_256',
      'EC_P256',
      'EC_P384',
      'ED25519',
      'HMAC_SHA256',
      'RSA_2048',
      'RSA_3072',
      'RSA_4096',
    ]);
    assert.equal(capabilities.versions, true);
    assert.equal(capabilities.restorable, true);
    assert.equal(capabilities.archival, 'reference');
    assert.equal(capabilities.minDestroyDelaySeconds, 86_400);
    assert.equal(capabilities.maxDestroyDelaySeconds, 86_400);
  });

  it('refuses P-521 with a message that says Cloud KMS does not offer it', async () => {
    const key = identity('p521');
    await assert.rejects(backend.create(key, { algorithm: 'EC_P521', usages: SIGNING }), (error: unknown) => {
      assert.ok(error instanceof UnsupportedError);
      assert.match(error.message, /does not offer EC_P521 keys/);
      return true;
    });
    assert.equal(peer.state.keys.has(keyName(key)), false);
  });

  it('offers nothing on EXTERNAL (Cloud EKM keys are made outside) and says so', async () => {
    const external = await open(peerSpec(peer, 'external', { protectionLevel: 'EXTERNAL' }));
    assert.deepEqual(external.capabilities().algorithms, []);
    assert.match((await external.health()).warnings.join(), /EXTERNAL/);
    await assert.rejects(
      external.create(identity('ekm'), { algorithm: 'AES_256', usages: ['encrypt'] }),
      UnsupportedError,
    );
    await external.close();
  });

  it('refuses an RSA key that would both sign and decrypt, and PSS on a PKCS#1 key', async () => {
    await assert.rejects(
      backend.create(identity('rsa-both'), { algorithm: 'RSA_2048', usages: ['sign', 'decrypt'] }),
      /one purpose/,
    );
    const key = identity('rsa-pkcs1');
    await backend.create(key, { algorithm: 'RSA_2048', usages: SIGNING });
    await assert.rejects(
      backend.sign(key, { message: Buffer.from('x') }, { rsaPadding: 'pss' }),
      UnsupportedError,
    );
  });
});

describe('keys as CryptoKeys', () => {
  const cases: [Algorithm, KeyUsage[], string, string][] = [
    ['EC_P256', SIGNING, 'ASYMMETRIC_SIGN', 'EC_SIGN_P256_SHA256'],
    ['EC_P384', SIGNING, 'ASYMMETRIC_SIGN', 'EC_SIGN_P384_SHA384'],
    ['ED25519', SIGNING, 'ASYMMETRIC_SIGN', 'EC_SIGN_ED25519'],
    ['RSA_3072', SIGNING, 'ASYMMETRIC_SIGN', 'RSA_SIGN_PKCS1_3072_SHA256'],
    ['RSA_2048', ['encrypt', 'decrypt'], 'ASYMMETRIC_DECRYPT', 'RSA_DECRYPT_OAEP_2048_SHA256'],
    ['AES_256', ['encrypt', 'decrypt', 'wrap', 'unwrap'], 'ENCRYPT_DECRYPT', 'GOOGLE_SYMMETRIC_ENCRYPTION'],
    ['HMAC_SHA256', SIGNING, 'MAC', 'HMAC_SHA256'],
  ];
  for (const [algorithm, usages, purpose, template] of cases) {
    it(`makes ${algorithm} as a ${purpose} ${template} CryptoKey at HSM level, labelled with its ManagedKey`, async () => {
      const key = identity(`key.${algorithm.toLowerCase()}`);
      const { outcome, version } = await backend.create(key, { algorithm, usages });
      assert.equal(outcome, 'created');
      assert.equal(version.state, 'Enabled');
      assert.equal(version.algorithm, algorithm);
      assert.deepEqual(version.usages, usages);
      assert.equal(version.versionId, '1');
      assert.equal(version.keyRef, `${keyName(key)}/cryptoKeyVersions/1`);
      assert.equal(version.label, `team-a/key.${algorithm.toLowerCase()}/v1`);
      const held = peer.state.cryptoKey(keyName(key));
      assert.equal(held.purpose, purpose);
      assert.equal(held.algorithm, template);
      assert.equal(held.protectionLevel, 'HSM');
      assert.equal(held.destroyScheduledMs, 86_400_000);
      assert.equal(held.labels['keyward-uid'], key.uid);
      assert.equal(held.labels['keyward-namespace'], 'team-a');
      assert.equal(held.labels['keyward-name'], `key_${algorithm.toLowerCase()}`);
      assert.deepEqual(peerVersions(key), ['1:ENABLED']);
    });
  }

  it('adopts the version on a second create, and never adds a CryptoKeyVersion', async () => {
    const key = identity('twice');
    const spec: KeySpec = { algorithm: 'EC_P256', usages: SIGNING };
    await backend.create(key, spec);
    const again = await backend.create(key, spec);
    assert.equal(again.outcome, 'adopted');
    assert.deepEqual(peerVersions(key), ['1:ENABLED']);
  });

  it('refuses to adopt a CryptoKey whose labels name another ManagedKey', async () => {
    const key = identity('squatted');
    peer.state.createCryptoKey(backend.target.id, `keyward-${key.uid}`, {
      purpose: 'ASYMMETRIC_SIGN',
      algorithm: 'EC_SIGN_P256_SHA256',
      protectionLevel: 'HSM',
      labels: { 'managed-by': 'keyward', 'keyward-uid': 'someone-else' },
      skipInitialVersionCreation: true,
    });
    await assert.rejects(backend.create(key, { algorithm: 'EC_P256', usages: SIGNING }), AlreadyExistsError);
  });

  it('refuses to adopt a key made for another algorithm', async () => {
    const key = identity('changed');
    await backend.create(key, { algorithm: 'EC_P256', usages: SIGNING });
    await assert.rejects(backend.create(key, { algorithm: 'EC_P384', usages: SIGNING }), AlreadyExistsError);
  });

  it('makes version N as CryptoKeyVersion N and lists versions newest first', async () => {
    const key = identity('rotated');
    const spec: KeySpec = { algorithm: 'EC_P256', usages: SIGNING };
    await backend.create(key, spec);
    const second = await backend.create({ ...key, version: 2 }, spec);
    assert.equal(second.version.versionId, '2');
    assert.deepEqual(
      (await backend.versions(key)).map((v) => v.versionId),
      ['2', '1'],
    );
    await assert.rejects(backend.create({ ...key, version: 4 }, spec), /would be CryptoKeyVersion 3, not 4/);
    assert.deepEqual(peerVersions(key), ['1:ENABLED', '2:ENABLED']);
  });
});

describe('signing', () => {
  const signers: [Algorithm, 'sha256' | 'sha384' | null][] = [
    ['EC_P256', 'sha256'],
    ['EC_P384', 'sha384'],
    ['ED25519', null],
    ['RSA_2048', 'sha256'],
  ];
  for (const [algorithm, hash] of signers) {
    it(`${algorithm}: a signature made by the peer verifies with the distributed public key`, async () => {
      const key = identity(`sign-${algorithm.toLowerCase()}`);
      await backend.create(key, { algorithm, usages: SIGNING });
      const { spki, fingerprint } = await backend.publicKey(key);
      assert.equal(
        fingerprint,
        `SHA256:${createHash('sha256').update(spki).digest('base64').replace(/=+$/, '')}`,
      );
      const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
      const message = Buffer.from(`message for ${algorithm}`);
      const signature = await backend.sign(key, { message });
      assert.ok(verify(hash, message, publicKey, signature));
      assert.equal(verify(hash, Buffer.from('another message'), publicKey, signature), false);
      assert.equal(await backend.verify(key, { message }, signature), true);
      assert.equal(await backend.verify(key, { message: Buffer.from('another') }, signature), false);
      if (hash !== null) {
        const digest = createHash(hash).update(message).digest();
        const fromDigest = await backend.sign(key, { digest, hash });
        assert.ok(verify(hash, message, publicKey, fromDigest));
        assert.equal(await backend.verify(key, { digest, hash }, fromDigest), true);
        assert.equal(
          await backend.verify(key, { digest: Buffer.alloc(digest.length), hash }, fromDigest),
          false,
        );
      }
      if (algorithm.startsWith('EC_P')) {
        const raw = await backend.sign(key, { message }, { ecdsaFormat: 'raw' });
        assert.equal(raw.length, algorithm === 'EC_P256' ? 64 : 96);
        assert.ok(verify(hash, message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw));
        assert.equal(await backend.verify(key, { message }, raw, { ecdsaFormat: 'raw' }), true);
      }
    });
  }

  it('HMAC_SHA256 MACs messages inside Cloud KMS and verifies them there', async () => {
    const key = identity('mac');
    await backend.create(key, { algorithm: 'HMAC_SHA256', usages: SIGNING });
    const message = Buffer.from('mac me');
    const mac = await backend.sign(key, { message });
    assert.equal(mac.length, 32);
    assert.equal(await backend.verify(key, { message }, mac), true);
    assert.equal(await backend.verify(key, { message: Buffer.from('other') }, mac), false);
    await assert.rejects(
      backend.sign(key, { digest: createHash('sha256').update(message).digest(), hash: 'sha256' }),
      UnsupportedError,
    );
  });
});

describe('asynchronous states', () => {
  it('waits out PENDING_GENERATION without a storm of calls, then proves the version', async () => {
    peer.pendingGenerationMs = 1_500;
    try {
      const key = identity('pending');
      const polls = peer.callCount('GetCryptoKeyVersion');
      const started = Date.now();
      const { version } = await backend.create(key, { algorithm: 'EC_P256', usages: SIGNING });
      assert.ok(Date.now() - started >= 1_400, 'create returned before the version was generated');
      assert.equal(version.state, 'Enabled');
      const made = peer.callCount('GetCryptoKeyVersion') - polls;
      assert.ok(made >= 2 && made <= 12, `${made} polls for 1.5 s of PENDING_GENERATION`);
      assert.ok(peer.callCount('AsymmetricSign') > 0);
    } finally {
      peer.pendingGenerationMs = 50;
    }
  });

  it('returns a version still PENDING_GENERATION after its wait, and a later create finishes it', async () => {
    peer.pendingGenerationMs = 800;
    const impatient = await open(peerSpec(peer, ring), { ...FAST_RETRIES, pendingGenerationWaitMs: 100 });
    try {
      const key = identity('still-pending');
      const spec: KeySpec = { algorithm: 'EC_P384', usages: SIGNING };
      const first = await impatient.create(key, spec);
      assert.equal(first.version.state, 'PendingGeneration');
      assert.equal((await impatient.observe(key))?.state, 'PendingGeneration');
      await new Promise((resolve) => setTimeout(resolve, 800));
      const second = await impatient.create(key, spec);
      assert.equal(second.outcome, 'adopted');
      assert.equal(second.version.state, 'Enabled');
      assert.deepEqual(peerVersions(key), ['1:ENABLED']);
    } finally {
      peer.pendingGenerationMs = 50;
      await impatient.close();
    }
  });

  it('schedules destruction for destroyScheduledDuration, restores, and reports Destroyed once the time passed', async () => {
    const key = identity('destroyed');
    await backend.create(key, { algorithm: 'EC_P256', usages: SIGNING });
    const before = peer.now();
    const result = await backend.destroy(key, DESTROY);
    assert.equal(result.outcome, 'scheduled');
    assert.ok(Math.abs(result.destroyTime - (before + 86_400_000)) < 5_000);
    const scheduled = await backend.observe(key);
    assert.equal(scheduled?.state, 'DestroyScheduled');
    assert.deepEqual(scheduled.usages, []);
    assert.equal(scheduled.destroyTime, result.destroyTime);
    assert.deepEqual(
      await backend.destroy(key, DESTROY),
      result,
      'a second destroy reports the same schedule',
    );

    await backend.setUsages(key, SIGNING);
    assert.equal((await backend.observe(key))?.state, 'Enabled');
    assert.deepEqual(peerVersions(key), ['1:ENABLED']);
    const signature = await backend.sign(key, { message: Buffer.from('still here') });
    assert.ok(signature.length > 0);

    await backend.destroy(key, DESTROY);
    peer.advanceClock(86_400_000 + 1_000);
    assert.equal((await backend.observe(key))?.state, 'Destroyed');
    assert.deepEqual(await backend.destroy(key, DESTROY), { outcome: 'destroyed' });
    assert.deepEqual(await backend.destroy(identity('never-made'), DESTROY), { outcome: 'absent' });
  });

  it('refuses a destroy delay longer than the CryptoKey holds destroyed versions', async () => {
    const key = identity('destroy-later');
    await backend.create(key, { algorithm: 'EC_P256', usages: SIGNING });
    await assert.rejects(
      backend.destroy(key, { delaySeconds: 7 * 86_400 }),
      /holds destroyed versions for 86400s/,
    );
    assert.deepEqual(peerVersions(key), ['1:ENABLED']);
    assert.equal((await backend.destroy(key, { delaySeconds: 0 })).outcome, 'scheduled');
  });

  it('disables a version for an empty usage list and enables it again', async () => {
    const key = identity('disabled');
    await backend.create(key, { algorithm: 'EC_P256', usages: SIGNING });
    await backend.setUsages(key, []);
    assert.equal((await backend.observe(key))?.state, 'Disabled');
    assert.deepEqual(peerVersions(key), ['1:DISABLED']);
    await assert.rejects(backend.sign(key, { message: Buffer.from('no') }), PermissionDeniedError);
    await assert.rejects(backend.verify(key, { message: Buffer.from('no') }, Buffer.alloc(64)), BackendError);
    await backend.setUsages(key, SIGNING);
    assert.equal((await backend.observe(key))?.state, 'Enabled');
  });

  it('archives a symmetric version by moving the primary to the new one', async () => {
    const key = identity('aes-rotated');
    const spec: KeySpec = { algorithm: 'AES_256', usages: ['encrypt', 'decrypt'] };
    await backend.create(key, spec);
    assert.equal(peer.state.cryptoKey(keyName(key)).primary, 1);
    await backend.create({ ...key, version: 2 }, spec);
    assert.equal(peer.state.cryptoKey(keyName(key)).primary, 2);
    assert.deepEqual((await backend.observe(key))?.usages, ['decrypt']);
    assert.deepEqual((await backend.observe({ ...key, version: 2 }))?.usages, ['encrypt', 'decrypt']);
    await backend.setUsages({ ...key, version: 2 }, ['decrypt']);
    assert.equal(
      peer.state.cryptoKey(keyName(key)).primary,
      1,
      'the newest other enabled version takes over',
    );
    await backend.setUsages({ ...key, version: 2 }, spec.usages);
    assert.equal(peer.state.cryptoKey(keyName(key)).primary, 2);
  });
});

describe('no silent rotation', () => {
  const spec: KeySpec = { algorithm: 'EC_P256', usages: SIGNING };

  it('a CreateCryptoKeyVersion whose response was lost is adopted, not made again', async () => {
    const key = identity('lost-version');
    await backend.create(key, spec);
    const calls = peer.callCount('CreateCryptoKeyVersion');
    peer.fail('CreateCryptoKeyVersion', { code: status.UNAVAILABLE, afterCommit: true });
    const result = await backend.create({ ...key, version: 2 }, spec);
    assert.equal(result.outcome, 'adopted');
    assert.equal(result.version.versionId, '2');
    assert.equal(
      peer.callCount('CreateCryptoKeyVersion') - calls,
      1,
      'CreateCryptoKeyVersion is never retried',
    );
    assert.deepEqual(peerVersions(key), ['1:ENABLED', '2:ENABLED']);
  });

  it('a CreateCryptoKey whose response was lost is adopted with its one version', async () => {
    const key = identity('lost-key');
    peer.fail('CreateCryptoKey', { code: status.DEADLINE_EXCEEDED, afterCommit: true });
    const result = await backend.create(key, spec);
    assert.equal(result.version.versionId, '1');
    assert.deepEqual(peerVersions(key), ['1:ENABLED']);
  });

  it('a create cancelled in flight and called again leaves exactly one new version', async () => {
    const key = identity('cancelled');
    await backend.create(key, spec);
    peer.fail('CreateCryptoKeyVersion', { hang: true });
    const controller = new AbortController();
    const arrived = peer.arrival('CreateCryptoKeyVersion');
    const pending = backend.create({ ...key, version: 2 }, spec, { signal: controller.signal });
    await arrived;
    controller.abort();
    await assert.rejects(pending, RetryableError);
    const again = await backend.create({ ...key, version: 2 }, spec);
    assert.equal(again.outcome, 'adopted');
    assert.deepEqual(peerVersions(key), ['1:ENABLED', '2:ENABLED']);
  });

  it('after a kill -9 between the create call and its answer, the next create adopts: exactly one version', async () => {
    const key = identity('killed');
    const specOnPeer = peerSpec(peer, ring);
    await backend.create(key, spec);
    peer.fail('CreateCryptoKeyVersion', { hang: true });
    const arrived = peer.arrival('CreateCryptoKeyVersion');
    const child = spawn(
      process.execPath,
      [CHILD, JSON.stringify({ spec: specOnPeer, identity: { ...key, version: 2 }, keySpec: spec })],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => {
        resolve(signal);
      }),
    );
    await arrived;
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    const adopted = await backend.create({ ...key, version: 2 }, spec);
    assert.equal(adopted.outcome, 'adopted');
    assert.deepEqual(peerVersions(key), ['1:ENABLED', '2:ENABLED']);
  });
});

describe('errors and retries', () => {
  const spec: KeySpec = { algorithm: 'EC_P256', usages: SIGNING };
  let key: KeyIdentity;

  before(async () => {
    key = identity('retried');
    await backend.create(key, spec);
  });

  it('retries UNAVAILABLE and RESOURCE_EXHAUSTED, waiting as long as RetryInfo asks', async () => {
    const calls = peer.callCount('AsymmetricSign');
    peer.fail('AsymmetricSign', { code: status.UNAVAILABLE });
    peer.fail('AsymmetricSign', { code: status.RESOURCE_EXHAUSTED, retryDelayMs: 400 });
    const started = Date.now();
    const signature = await backend.sign(key, { message: Buffer.from('retried') });
    assert.ok(signature.length > 0);
    assert.equal(peer.callCount('AsymmetricSign') - calls, 3);
    assert.ok(Date.now() - started >= 390, 'the RetryInfo delay was honoured');
  });

  it('gives up with a RetryableError when the failures last', async () => {
    peer.fail('GetCryptoKeyVersion', { code: status.UNAVAILABLE, times: 3 });
    await assert.rejects(backend.observe(key), RetryableError);
    peer.clearFaults();
  });

  it('detects a CRC32C mismatch, retries, and fails when the corruption persists', async () => {
    const calls = peer.callCount('AsymmetricSign');
    peer.fail('AsymmetricSign', { corrupt: 'signature' });
    const signature = await backend.sign(key, { message: Buffer.from('crc') });
    assert.equal(
      peer.callCount('AsymmetricSign') - calls,
      2,
      'the corrupted answer was refused and asked again',
    );
    const publicKey = createPublicKey({
      key: (await backend.publicKey(key)).spki,
      format: 'der',
      type: 'spki',
    });
    assert.ok(verify('sha256', Buffer.from('crc'), publicKey, signature));
    peer.fail('AsymmetricSign', { corrupt: 'signature', times: 3 });
    await assert.rejects(backend.sign(key, { message: Buffer.from('crc') }), /CRC32C/);
    peer.clearFaults();
  });

  it('maps PERMISSION_DENIED and UNAUTHENTICATED to PermissionDenied without retrying', async () => {
    const calls = peer.callCount('AsymmetricSign');
    peer.fail('AsymmetricSign', {
      code: status.PERMISSION_DENIED,
      message: "Permission 'cloudkms.cryptoKeyVersions.useToSign' denied on resource (or it may not exist).",
    });
    await assert.rejects(backend.sign(key, { message: Buffer.from('x') }), (error: unknown) => {
      assert.ok(error instanceof PermissionDeniedError);
      assert.match(error.message, /needs cloudkms\.cryptoKeyVersions\.useToSign/);
      return true;
    });
    peer.fail('GetCryptoKeyVersion', {
      code: status.UNAUTHENTICATED,
      message: 'Request had invalid authentication credentials',
    });
    await assert.rejects(backend.observe(key), PermissionDeniedError);
    assert.equal(peer.callCount('AsymmetricSign') - calls, 1);
  });

  it('an aborted call rejects with a RetryableError', async () => {
    await assert.rejects(backend.observe(key, { signal: AbortSignal.abort() }), RetryableError);
  });

  it('puts no credential in an error', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = String(privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const serviceAccount = Buffer.from(
      JSON.stringify({
        type: 'service_account',
        client_email: 'kw@keyward-test.iam.gserviceaccount.com',
        private_key: pem,
      }),
    );
    // TLS to the peer's plaintext port, with a key whose token request cannot succeed here.
    const spec = peerSpec(peer, ring, { endpoint: `127.0.0.1:${peer.port}` });
    const client = createClient(spec, new Map([[SERVICE_ACCOUNT_KEY, serviceAccount]]));
    await assert.rejects(
      GcpKmsBackend.connect(client, spec, { callPolicy: { ...FAST_RETRIES.callPolicy!, attempts: 1 } }),
      (error: unknown) => {
        assert.ok(error instanceof BackendError);
        const body = pem.split('\n')[5] ?? '';
        assert.ok(body.length > 20);
        assert.ok(!error.message.includes(body), error.message);
        assert.ok(!error.message.includes('PRIVATE KEY'), error.message);
        assert.equal(error.cause, undefined);
        return true;
      },
    );
    assert.throws(
      () =>
        createClient(spec, new Map([[SERVICE_ACCOUNT_KEY, Buffer.from('{"private_key": "secret-value"')]])),
      (error: unknown) => error instanceof MisconfiguredError && !error.message.includes('secret-value'),
    );
  });

  it('refuses a plaintext endpoint that is not on loopback', () => {
    assert.throws(
      () => createClient(peerSpec(peer, ring, { endpoint: 'http://kms.example.com:443' }), new Map()),
      /only allowed on a loopback address/,
    );
  });
});
