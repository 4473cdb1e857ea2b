// The Azure Key Vault / Managed HSM backend against the Key Vault test peer (test/support/keyvault-peer), reached
// through the real SDK paths: challenge authentication, a service principal or workload identity token from the
// peer's Entra ID endpoint, TLS with the peer's certificate trusted.

import assert from 'node:assert/strict';
import { createHash, createPublicKey, randomUUID, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KeyBackend } from '../../../src/backends/backend.ts';
import { BackendError } from '../../../src/backends/errors.ts';
import type { KeyIdentity } from '../../../src/backends/identity.ts';
import { azureKeyVaultFactory } from '../../../src/backends/azure-keyvault/factory.ts';
import { keyName } from '../../../src/backends/azure-keyvault/key-names.ts';
import {
  type KeyVaultPeer,
  type KeyVaultPeerOptions,
  startKeyVaultPeer,
} from '../../support/keyvault-peer/server.ts';

function identity(version = 1, uid: string = randomUUID()): KeyIdentity {
  return { uid, namespace: 'payments', name: 'signing', version };
}

function principal(peer: KeyVaultPeer, secret = peer.clientSecret): Map<string, Buffer> {
  const json = JSON.stringify({ tenantId: peer.tenantId, clientId: peer.clientId, clientSecret: secret });
  return new Map([['servicePrincipal', Buffer.from(json)]]);
}

async function open(
  peer: KeyVaultPeer,
  kind: 'KeyVault' | 'ManagedHSM',
  secret?: string,
): Promise<KeyBackend> {
  return azureKeyVaultFactory.open(
    {
      vaultUrl: peer.vaultUrl,
      vaultType: kind,
      authorityHost: peer.authorityHost,
      disableChallengeResourceVerification: true,
      credentialsSecretRef: { namespace: 'keyward', name: 'azure', key: 'servicePrincipal' },
    },
    principal(peer, secret),
  );
}

async function rejection(promise: Promise<unknown>): Promise<BackendError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof BackendError, `not a BackendError: ${String(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}

async function withPeer(
  options: KeyVaultPeerOptions,
  kind: 'KeyVault' | 'ManagedHSM',
  fn: (backend: KeyBackend, peer: KeyVaultPeer) => Promise<void>,
): Promise<void> {
  const peer = await startKeyVaultPeer(options);
  const backend = await open(peer, kind);
  try {
    await fn(backend, peer);
  } finally {
    await backend.close();
    await peer.stop();
  }
}

describe('Azure Key Vault backend on a Managed HSM peer', () => {
  let peer: KeyVaultPeer;
  let backend: KeyBackend;

  before(async () => {
    peer = await startKeyVaultPeer({ kind: 'managedHsm', retentionDays: 7 });
    backend = await open(peer, 'ManagedHSM');
  });
  after(async () => {
    await backend.close();
    await peer.stop();
  });

  it('says what it is: Managed HSM, FIPS 140-3 Level 3, the vault as target', async () => {
    const health = await backend.health();
    assert.match(health.info.model, /Managed HSM \(FIPS 140-3 Level 3\)/);
    assert.equal(backend.target.id, peer.vaultUrl);
    const capabilities = backend.capabilities();
    assert.deepEqual(capabilities.algorithms, [
      'EC_P256',
      'EC_P384',
      'EC_P521',
      'RSA_2048',
      'RSA_3072',
      'RSA_4096',
      'AES_256',
    ]);
    assert.equal(capabilities.archival, 'usages');
    assert.equal(capabilities.lookupBy, 'tags');
  });

  for (const algorithm of ['EC_P256', 'EC_P384', 'EC_P521', 'RSA_2048', 'RSA_3072'] as const) {
    it(`creates ${algorithm} as an HSM key, signs in the vault, and the signature verifies with the published key`, async () => {
      const id = identity();
      const created = await backend.create(id, { algorithm, usages: ['sign', 'verify'] });
      assert.equal(created.outcome, 'created');
      assert.equal(created.version.state, 'Enabled');
      assert.deepEqual(created.version.usages, ['sign', 'verify']);
      const stored = peer.store.version(keyName(id), created.version.versionId);
      assert.equal(stored.kty, algorithm.startsWith('EC') ? 'EC-HSM' : 'RSA-HSM');
      assert.deepEqual(stored.keyOps, ['sign', 'verify']);

      const { spki, fingerprint } = await backend.publicKey(id);
      assert.match(fingerprint, /^SHA256:/);
      const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
      const message = Buffer.from(`message for ${algorithm}`);
      const hash = { EC_P384: 'sha384', EC_P521: 'sha512' }[algorithm as string] ?? 'sha256';
      const der = await backend.sign(id, { message });
      assert.ok(verify(hash, message, publicKey, der), 'DER signature verifies with node:crypto');
      assert.equal(await backend.verify(id, { message }, der), true);
      assert.equal(await backend.verify(id, { message: Buffer.from('other') }, der), false);
      if (algorithm.startsWith('EC')) {
        const raw = await backend.sign(
          id,
          { digest: createHash(hash).update(message).digest(), hash: hash as 'sha256' },
          { ecdsaFormat: 'raw' },
        );
        assert.ok(verify(hash, message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw));
        assert.equal(await backend.verify(id, { message }, raw, { ecdsaFormat: 'raw' }), true);
      } else {
        const pss = await backend.sign(id, { message }, { rsaPadding: 'pss' });
        assert.ok(verify(hash, message, { key: publicKey, padding: 6, saltLength: 32 }, pss));
      }
    });
  }

  it('creates AES_256 as oct-HSM with encryption key_ops and no public key', async () => {
    const id = identity();
    const created = await backend.create(id, {
      algorithm: 'AES_256',
      usages: ['encrypt', 'decrypt', 'wrap', 'unwrap'],
    });
    assert.deepEqual(peer.store.version(keyName(id), created.version.versionId).keyOps, [
      'encrypt',
      'decrypt',
      'wrapKey',
      'unwrapKey',
    ]);
    assert.equal(peer.store.version(keyName(id), created.version.versionId).kty, 'oct-HSM');
    assert.equal((await rejection(backend.publicKey(id))).code, 'Unsupported');
  });

  it('create is idempotent: a second call adopts the version and Azure holds one key with one version', async () => {
    const id = identity();
    const first = await backend.create(id, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    const again = await backend.create(id, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    assert.equal(again.outcome, 'adopted');
    assert.equal(again.version.versionId, first.version.versionId);
    assert.equal(peer.store.key(keyName(id)).versions.length, 1);
    assert.equal(
      (await rejection(backend.create(id, { algorithm: 'EC_P384', usages: ['sign'] }))).code,
      'AlreadyExists',
    );
  });

  it('finds a version made by an interrupted create (key in the vault, status never written) by its tags', async () => {
    const id = identity();
    // What a create killed after Azure answered leaves: the key and its tags, nothing in Keyward's status.
    const other = await open(peer, 'ManagedHSM');
    const made = await other.create(id, { algorithm: 'RSA_2048', usages: ['sign', 'verify'] });
    await other.close();
    assert.equal((await backend.observe(id))?.versionId, made.version.versionId);
    const adopted = await backend.create(id, { algorithm: 'RSA_2048', usages: ['sign', 'verify'] });
    assert.equal(adopted.outcome, 'adopted');
    assert.equal(peer.store.key(keyName(id)).versions.length, 1);
    const v2 = await backend.create(
      { ...id, version: 2 },
      { algorithm: 'RSA_2048', usages: ['sign', 'verify'] },
    );
    const listed = await backend.versions(id);
    assert.deepEqual(
      listed.map((v) => v.versionId),
      [v2.version.versionId, made.version.versionId],
    );
  });

  it('refuses a key with the derived name that does not carry the identity tags', async () => {
    const id = identity();
    peer.store.create(keyName(id), { kty: 'EC-HSM', crv: 'P-256', tags: { owner: 'someone else' } });
    assert.equal((await rejection(backend.observe(id))).code, 'AlreadyExists');
    assert.equal(
      (await rejection(backend.create(id, { algorithm: 'EC_P256', usages: ['sign'] }))).code,
      'AlreadyExists',
    );
  });

  it('archives through key_ops, disables through the enabled flag, and enables again', async () => {
    const id = identity();
    await backend.create(id, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    const message = Buffer.from('archived');
    const old = await backend.sign(id, { message });
    await backend.setUsages(id, ['verify']);
    assert.deepEqual((await backend.observe(id))?.usages, ['verify']);
    assert.equal((await rejection(backend.sign(id, { message }))).code, 'PermissionDenied');
    assert.equal(await backend.verify(id, { message }, old), true);

    await backend.setUsages(id, []);
    const disabled = await backend.observe(id);
    assert.equal(disabled?.state, 'Disabled');
    assert.deepEqual(disabled.usages, []);
    assert.equal(peer.store.version(keyName(id), disabled.versionId).enabled, false);
    assert.equal((await rejection(backend.sign(id, { message }))).code, 'PermissionDenied');

    await backend.setUsages(id, ['sign', 'verify']);
    assert.equal((await backend.observe(id))?.state, 'Enabled');
    assert.ok((await backend.sign(id, { message })).length > 0);
  });

  it('destroys at once where the vault allows purge, and schedules at the purge date otherwise', async () => {
    const id = identity();
    await backend.create(id, { algorithm: 'EC_P256', usages: ['sign'] });
    assert.deepEqual(await backend.destroy(id), { outcome: 'destroyed' });
    assert.equal(await backend.observe(id), undefined);
    assert.equal(
      peer.store.deleted().some((k) => k.name === keyName(id)),
      false,
      'purged, not only soft-deleted',
    );
    assert.deepEqual(await backend.destroy(id), { outcome: 'absent' });

    const later = identity();
    await backend.create(later, { algorithm: 'EC_P256', usages: ['sign'] });
    const before = Date.now();
    const result = await backend.destroy(later, { delaySeconds: 86_400 });
    assert.ok(result.outcome === 'scheduled');
    const { destroyTime } = result;
    assert.ok(Math.abs(destroyTime - (before + 7 * 86_400_000)) < 5_000, 'the vault purges after its 7 days');
    const observed = await backend.observe(later);
    assert.equal(observed?.state, 'DestroyScheduled');
    assert.equal(observed.destroyTime, destroyTime);
    assert.equal(
      (await backend.destroy(later, { delaySeconds: 86_400 })).outcome,
      'scheduled',
      'again: still scheduled',
    );
    assert.equal(
      (await rejection(backend.create(later, { algorithm: 'EC_P256', usages: ['sign'] }))).code,
      'AlreadyExists',
    );
  });

  it('restores a soft-deleted version when its usages are enabled again', async () => {
    const id = identity();
    const made = await backend.create(id, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    await backend.destroy(id, { delaySeconds: 3600 });
    await backend.setUsages(id, ['verify']);
    const restored = await backend.observe(id);
    assert.equal(restored?.state, 'Enabled');
    assert.equal(restored.versionId, made.version.versionId);
    assert.deepEqual(restored.usages, ['verify']);
  });

  it('the peer purges a soft-deleted key once its retention has passed; the version is then absent', async () => {
    const id = identity();
    await backend.create(id, { algorithm: 'EC_P256', usages: ['sign'] });
    await backend.destroy(id, { delaySeconds: 3600 });
    peer.advance(7 * 86_400_000 + 1_000);
    assert.equal(await backend.observe(id), undefined);
    assert.deepEqual(await backend.destroy(id), { outcome: 'absent' });
  });

  it('retries a 429 storm after the Retry-After the vault sends, then succeeds', async () => {
    const id = identity();
    await backend.create(id, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    const start = peer.requests.length;
    peer.fail(3, 429, 1);
    const began = Date.now();
    await backend.sign(id, { message: Buffer.from('throttled') });
    const elapsed = Date.now() - began;
    const attempts = peer.requests.slice(start);
    assert.ok(attempts.length >= 5, `3 throttled attempts and the successful ones, got ${attempts.length}`);
    const gaps = attempts.slice(1, 4).map((r, i) => r.at - attempts[i]!.at);
    assert.ok(
      gaps.every((gap) => gap >= 900),
      `each retry waited for Retry-After: ${gaps.join(', ')} ms`,
    );
    assert.ok(elapsed >= 2_900, `three Retry-After waits of 1s, took ${elapsed} ms`);
  });

  it('a vault that keeps failing ends in a RetryableError, bounded in attempts', async () => {
    const id = identity();
    await backend.create(id, { algorithm: 'EC_P256', usages: ['sign'] });
    const start = peer.requests.length;
    peer.fail(100, 503, 0);
    const error = await rejection(backend.observe(id));
    peer.fail(0, 503);
    assert.equal(error.code, 'Retryable');
    assert.match(error.message, /503/);
    assert.ok(peer.requests.length - start <= 7, `no tight loop: ${peer.requests.length - start} attempts`);
  });

  it('an aborted call rejects with a RetryableError', async () => {
    const controller = new AbortController();
    peer.fail(1, 429, 30);
    const pending = backend.observe(identity(), { signal: controller.signal });
    setTimeout(() => {
      controller.abort();
    }, 200);
    const error = await rejection(pending);
    assert.equal(error.code, 'Retryable');
  });

  it('a wrong client secret is PermissionDenied and the message does not contain it', async () => {
    const wrong = 'not-the-secret-' + randomUUID();
    const error = await rejection(open(peer, 'ManagedHSM', wrong));
    assert.equal(error.code, 'PermissionDenied');
    assert.match(error.message, /invalid_client/);
    assert.ok(!error.message.includes(wrong));
    assert.ok(!error.message.includes(peer.clientSecret));
    assert.ok(!JSON.stringify(error).includes(wrong));
  });

  it('reaches the vault with workload identity (a federated token file) and no Secret', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyward-azure-'));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, peer.federatedToken);
    const saved = { ...process.env };
    Object.assign(process.env, {
      AZURE_FEDERATED_TOKEN_FILE: tokenFile,
      AZURE_CLIENT_ID: peer.clientId,
      AZURE_TENANT_ID: peer.tenantId,
    });
    try {
      const workload = await azureKeyVaultFactory.open(
        {
          vaultUrl: peer.vaultUrl,
          vaultType: 'ManagedHSM',
          authorityHost: peer.authorityHost,
          disableChallengeResourceVerification: true,
        },
        new Map(),
      );
      const id = identity();
      assert.equal(
        (await workload.create(id, { algorithm: 'EC_P256', usages: ['sign'] })).outcome,
        'created',
      );
      await workload.close();
    } finally {
      for (const name of ['AZURE_FEDERATED_TOKEN_FILE', 'AZURE_CLIENT_ID', 'AZURE_TENANT_ID']) {
        if (saved[name] === undefined) Reflect.deleteProperty(process.env, name);
        else process.env[name] = saved[name];
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Azure Key Vault backend on a Key Vault (Premium) peer', () => {
  it('offers no AES on Key Vault and vouches for FIPS 140 Level 2 only', async () => {
    await withPeer({ kind: 'vault' }, 'KeyVault', async (backend) => {
      assert.equal(backend.capabilities().algorithms.includes('AES_256'), false);
      assert.match((await backend.health()).info.model, /Key Vault Premium .*Level 2/);
      assert.equal(
        (await rejection(backend.create(identity(), { algorithm: 'AES_256', usages: ['encrypt'] }))).code,
        'Unsupported',
      );
    });
  });

  it('with purge protection, destruction waits for the retention and health says so', async () => {
    await withPeer(
      { kind: 'vault', purgeProtection: true, retentionDays: 30 },
      'KeyVault',
      async (backend) => {
        const id = identity();
        await backend.create(id, { algorithm: 'RSA_2048', usages: ['sign', 'verify'] });
        assert.equal(backend.capabilities().minDestroyDelaySeconds, 30 * 86_400);
        const result = await backend.destroy(id);
        assert.equal(result.outcome, 'scheduled');
        assert.ok((await backend.health()).warnings.some((w) => /purge protection is on.*30 days/.test(w)));
      },
    );
  });

  it('a key the vault made as software (kty without -HSM) is a PolicyViolation, disabled and never used', async () => {
    await withPeer({ kind: 'vault', downgradeHsmKeys: true }, 'KeyVault', async (backend, peer) => {
      const id = identity();
      const error = await rejection(backend.create(id, { algorithm: 'EC_P256', usages: ['sign', 'verify'] }));
      assert.equal(error.code, 'PolicyViolation');
      assert.match(error.message, /EC key/);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(peer.store.key(keyName(id)).versions[0]?.enabled, false);
      assert.equal(
        (await rejection(backend.create(id, { algorithm: 'EC_P256', usages: ['sign', 'verify'] }))).code,
        'PolicyViolation',
      );
      assert.equal(peer.store.key(keyName(id)).versions.length, 1);
    });
  });
});
