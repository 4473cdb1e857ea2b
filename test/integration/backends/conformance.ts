// One set of tests that every backend passes against its real peer (cert-manager's conformance suite is the
// model): a target gives a way to open the backend, the algorithms to exercise, and the features it lacks, each with
// the reason. A test of a lacking feature is skipped with that reason, never silently.
//
// Every assertion is made from outside the backend where it can be: signatures are verified with node:crypto
// against the public key the backend published, not by asking the backend again.

import assert from 'node:assert/strict';
import { createHash, createPublicKey, randomBytes, randomUUID, verify } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  ALLOWED_USAGES,
  type Algorithm,
  type KeyUsage,
  archivedUsages,
  isAsymmetric,
  signatureDigest,
} from '../../../src/backends/algorithms.ts';
import type { KeyBackend, KeySpec, ObservedVersion } from '../../../src/backends/backend.ts';
import { guarded } from '../../../src/backends/guarded.ts';
import {
  BackendError,
  NotFoundError,
  PermissionDeniedError,
  RetryableError,
  TargetMismatchError,
  UnsupportedError,
} from '../../../src/backends/errors.ts';
import type { KeyIdentity } from '../../../src/backends/identity.ts';

/** What a backend may lack; its tests are skipped with the reason the target gives. */
export type Feature =
  /** Restricting an archived version to verify/decrypt/unwrap in the backend (capabilities().archival 'usages'). */
  | 'usageRestriction'
  /** Destroying a version at once (others schedule it: GCP, AWS, Azure soft delete). */
  | 'immediateDestroy'
  /** Signing a digest computed elsewhere (Ed25519 never does; the suite skips it for Ed25519 on its own). */
  | 'digestSigning'
  /** RSA-PSS signatures. */
  | 'rsaPss'
  /** Recovery backups: a secret key wrapped once inside the backend, sealed, and restored (capabilities().recoveryWrap). */
  | 'recoveryWrap';

export interface ConformanceTarget {
  /** Shown in test titles, e.g. `SoftHSM2`. */
  readonly name: string;
  /** Opens a connected backend on the peer; called once for the suite and again where a test needs a new one. */
  open(): Promise<KeyBackend>;
  /** Algorithms to exercise; each must be in capabilities().algorithms. */
  readonly algorithms: readonly Algorithm[];
  readonly lacks?: Partial<Record<Feature, string>>;
  /** An algorithm the backend does not offer, to check that it is refused (omit when it offers all). */
  readonly unoffered?: Algorithm;
}

/** The widest usages each algorithm allows that a backend is asked for. */
function usagesFor(algorithm: Algorithm): KeyUsage[] {
  return isAsymmetric(algorithm) && algorithm.startsWith('RSA_')
    ? ['sign', 'verify']
    : [...ALLOWED_USAGES[algorithm]];
}

function canSign(algorithm: Algorithm): boolean {
  return algorithm !== 'AES_256';
}

export function describeConformance(target: ConformanceTarget): void {
  const lacks = target.lacks ?? {};
  const skipIf = (feature: Feature): { skip: string } | object =>
    lacks[feature] === undefined ? {} : { skip: `${target.name} lacks ${feature}: ${lacks[feature]}` };

  describe(`backend conformance: ${target.name}`, () => {
    let backend: KeyBackend;
    const uid = randomUUID();
    let counter = 0;
    const identity = (version = 1): KeyIdentity => ({
      uid: `${uid}-${String(++counter)}`,
      namespace: 'conformance',
      name: `key-${String(counter)}`,
      version,
    });
    const create = async (id: KeyIdentity, spec: KeySpec): Promise<ObservedVersion> =>
      (await backend.create(id, spec)).version;
    const primary = target.algorithms[0] ?? 'EC_P256';
    const primarySpec: KeySpec = { algorithm: primary, usages: usagesFor(primary) };
    /** The identity as status records it once created: with the backend's id and target. */
    const recorded = (id: KeyIdentity, version: ObservedVersion): KeyIdentity => ({
      ...id,
      versionId: version.versionId,
      target: version.target,
    });

    before(async () => {
      backend = guarded(await target.open());
    });
    after(async () => {
      await backend.close();
    });

    it('names its target and declares capabilities consistent with what it lacks', () => {
      assert.ok(backend.target.id.length > 0);
      assert.ok(backend.target.description.length > 0);
      const capabilities = backend.capabilities();
      for (const algorithm of target.algorithms)
        assert.ok(capabilities.algorithms.includes(algorithm), algorithm);
      assert.equal(capabilities.archival === 'usages', lacks.usageRestriction === undefined);
      assert.equal(capabilities.recoveryWrap, lacks.recoveryWrap === undefined);
      assert.equal(backend.wrapForRecovery !== undefined, capabilities.recoveryWrap);
      assert.ok(capabilities.minDestroyDelaySeconds >= 0);
      if (capabilities.maxDestroyDelaySeconds !== undefined) {
        assert.ok(capabilities.maxDestroyDelaySeconds >= capabilities.minDestroyDelaySeconds);
      }
    });

    describe('generation', () => {
      for (const algorithm of target.algorithms) {
        it(`creates ${algorithm} with the usages asked for, on its own target, and names the version`, async () => {
          const id = identity();
          const usages = usagesFor(algorithm);
          const result = await backend.create(id, { algorithm, usages });
          assert.equal(result.outcome, 'created');
          const observed = await backend.observe(recorded(id, result.version));
          assert.ok(observed, 'the created version is observed');
          assert.equal(observed.version, 1);
          assert.equal(observed.algorithm, algorithm);
          assert.ok(['Enabled', 'PendingGeneration'].includes(observed.state), observed.state);
          assert.deepEqual([...observed.usages].sort(), [...usages].sort());
          assert.equal(observed.target, backend.target.id);
          assert.equal(observed.versionId, result.version.versionId);
          assert.ok(observed.versionId.length > 0);
          assert.doesNotMatch(
            observed.keyRef,
            /pin-(value|source)|password/i,
            'a key reference never carries a credential',
          );
          // A public key create hands back (it saves a read) is the key's own.
          if (result.publicKey) {
            assert.ok(isAsymmetric(algorithm), 'only key pairs have a public key');
            assert.deepEqual(result.publicKey, await backend.publicKey(recorded(id, result.version)));
          }
        });
      }

      it('adopts on a second create: the same version, never a second key', async () => {
        const id = identity();
        const first = await backend.create(id, primarySpec);
        const second = await backend.create(id, primarySpec);
        assert.equal(second.outcome, 'adopted');
        assert.equal(second.version.versionId, first.version.versionId);
        if (first.publicKey && second.publicKey) assert.deepEqual(second.publicKey, first.publicKey);
        assert.equal((await backend.versions(id)).length, 1);
      });

      it('makes one key when two creates of the same version race', async () => {
        const id = identity();
        const results = await Promise.allSettled([
          backend.create(id, primarySpec),
          backend.create(id, primarySpec),
        ]);
        const created = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        assert.ok(created.length >= 1, 'at least one create succeeds');
        assert.equal(new Set(created.map((r) => r.version.versionId)).size, 1);
        assert.equal((await backend.versions(id)).length, 1);
      });

      it('lists the versions of one key, newest first, and only that key', async () => {
        const v1 = identity();
        await backend.create(v1, primarySpec);
        await backend.create({ ...v1, version: 2 }, primarySpec);
        await backend.create(identity(), primarySpec); // another key
        const listed = await backend.versions(v1);
        assert.deepEqual(
          listed.map((v) => v.version),
          [2, 1],
        );
      });

      it('refuses what the algorithm does not allow, and algorithms it does not offer, before the backend acts', async () => {
        const id = identity();
        await assert.rejects(
          backend.create(id, { algorithm: 'EC_P256', usages: ['encrypt'] }),
          UnsupportedError,
        );
        await assert.rejects(backend.create(id, { algorithm: 'EC_P256', usages: [] }), UnsupportedError);
        if (target.unoffered !== undefined) {
          await assert.rejects(
            backend.create(id, { algorithm: target.unoffered, usages: usagesFor(target.unoffered) }),
            (error: unknown) =>
              error instanceof UnsupportedError && error.message.includes(target.unoffered ?? ''),
          );
        }
        assert.equal(await backend.observe(id), undefined);
      });
    });

    describe('signatures', () => {
      for (const algorithm of target.algorithms.filter((a) => isAsymmetric(a))) {
        it(`${algorithm}: a signature over a message verifies with the published public key`, async () => {
          const id = identity();
          const version = await create(id, { algorithm, usages: ['sign', 'verify'] });
          const key = recorded(id, version);
          const publicKey = createPublicKey({
            key: (await backend.publicKey(key)).spki,
            format: 'der',
            type: 'spki',
          });
          const message = randomBytes(64);
          const hash = signatureDigest(algorithm) ?? null;
          const signature = await backend.sign(key, { message });
          assert.ok(verify(hash, message, publicKey, signature), 'DER (the default) verifies');
          assert.ok(!verify(hash, Buffer.concat([message, Buffer.from('x')]), publicKey, signature));
          assert.equal(await backend.verify(key, { message }, signature), true);
          assert.equal(await backend.verify(key, { message: randomBytes(64) }, signature), false);
          if (algorithm.startsWith('EC_')) {
            const raw = await backend.sign(key, { message }, { ecdsaFormat: 'raw' });
            assert.ok(
              verify(hash, message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw),
              'raw r||s verifies',
            );
          }
        });

        if (algorithm !== 'ED25519') {
          it(
            `${algorithm}: signs a digest of the key's own hash, and refuses another hash`,
            skipIf('digestSigning'),
            async () => {
              const id = identity();
              const version = await create(id, { algorithm, usages: ['sign', 'verify'] });
              const key = recorded(id, version);
              const publicKey = createPublicKey({
                key: (await backend.publicKey(key)).spki,
                format: 'der',
                type: 'spki',
              });
              const hash = signatureDigest(algorithm) ?? 'sha256';
              const message = randomBytes(64);
              const digest = createHash(hash).update(message).digest();
              const signature = await backend.sign(key, { digest, hash });
              assert.ok(verify(hash, message, publicKey, signature));
              const other = hash === 'sha256' ? 'sha384' : 'sha256';
              await assert.rejects(
                backend.sign(key, { digest: createHash(other).update(message).digest(), hash: other }),
                UnsupportedError,
              );
            },
          );
        }
      }

      const rsa = target.algorithms.find((a) => a.startsWith('RSA_'));
      if (rsa) {
        it(`${rsa}: RSA-PSS signatures verify`, skipIf('rsaPss'), async () => {
          const id = identity();
          const key = recorded(id, await create(id, { algorithm: rsa, usages: ['sign', 'verify'] }));
          const publicKey = createPublicKey({
            key: (await backend.publicKey(key)).spki,
            format: 'der',
            type: 'spki',
          });
          const message = randomBytes(32);
          const signature = await backend.sign(key, { message }, { rsaPadding: 'pss' });
          assert.ok(verify('sha256', message, { key: publicKey, padding: 6, saltLength: 32 }, signature));
        });
      }

      if (target.algorithms.includes('HMAC_SHA256')) {
        it('HMAC_SHA256: the backend verifies its own MAC and refuses a tampered one', async () => {
          const id = identity();
          const key = recorded(
            id,
            await create(id, { algorithm: 'HMAC_SHA256', usages: ['sign', 'verify'] }),
          );
          const message = randomBytes(32);
          const mac = await backend.sign(key, { message });
          assert.equal(mac.length, 32);
          assert.equal(await backend.verify(key, { message }, mac), true);
          assert.equal(await backend.verify(key, { message: randomBytes(32) }, mac), false);
          await assert.rejects(backend.publicKey(key), UnsupportedError);
        });
      }

      if (target.algorithms.includes('AES_256')) {
        it('AES_256: does not sign and has no public key', async () => {
          const id = identity();
          const key = recorded(
            id,
            await create(id, { algorithm: 'AES_256', usages: ['encrypt', 'decrypt'] }),
          );
          await assert.rejects(backend.sign(key, { message: Buffer.from('x') }), UnsupportedError);
          await assert.rejects(backend.publicKey(key), UnsupportedError);
        });
      }
    });

    describe('usages', () => {
      const algorithm = target.algorithms.find((a) => canSign(a) && isAsymmetric(a)) ?? 'EC_P256';

      it('disabling stops signing and shows Disabled; enabling restores the spec usages', async () => {
        const id = identity();
        const key = recorded(id, await create(id, { algorithm, usages: ['sign', 'verify'] }));
        await backend.setUsages(key, []);
        const disabled = await backend.observe(key);
        assert.equal(disabled?.state, 'Disabled');
        assert.deepEqual(disabled.usages, []);
        await assert.rejects(backend.sign(key, { message: Buffer.from('x') }), BackendError);
        await backend.setUsages(key, ['sign', 'verify']);
        assert.equal((await backend.observe(key))?.state, 'Enabled');
        assert.ok((await backend.sign(key, { message: Buffer.from('x') })).length > 0);
      });

      it('archival keeps verify and stops sign', skipIf('usageRestriction'), async () => {
        const id = identity();
        const key = recorded(id, await create(id, { algorithm, usages: ['sign', 'verify'] }));
        const message = Buffer.from('signed before archival');
        const signature = await backend.sign(key, { message });
        await backend.setUsages(key, archivedUsages(['sign', 'verify']));
        await assert.rejects(backend.sign(key, { message }), PermissionDeniedError);
        assert.equal(await backend.verify(key, { message }, signature), true);
        assert.deepEqual((await backend.observe(key))?.usages, ['verify']);
      });

      it('refuses usages the algorithm does not allow', async () => {
        const id = identity();
        const key = recorded(id, await create(id, { algorithm, usages: ['sign', 'verify'] }));
        await assert.rejects(backend.setUsages(key, ['wrap']), UnsupportedError);
      });
    });

    describe('destruction', () => {
      const { algorithm, usages } = primarySpec;

      it(
        'destroys at once where it can; a second request finds nothing',
        skipIf('immediateDestroy'),
        async () => {
          const id = identity();
          const key = recorded(id, await create(id, { algorithm, usages }));
          assert.deepEqual(await backend.destroy(key, { delaySeconds: 0 }), { outcome: 'destroyed' });
          const after = await backend.observe(key);
          assert.ok(after === undefined || after.state === 'Destroyed');
          if (canSign(algorithm))
            await assert.rejects(backend.sign(key, { message: Buffer.from('x') }), BackendError);
          assert.deepEqual(await backend.destroy(key, { delaySeconds: 0 }), { outcome: 'absent' });
        },
      );

      it('schedules destruction where it must wait, and says until when', async () => {
        if (lacks.immediateDestroy === undefined) return; // covered above: this backend destroys at once
        const id = identity();
        const key = recorded(id, await create(id, { algorithm, usages }));
        const before = Date.now();
        const result = await backend.destroy(key, { delaySeconds: 0 });
        assert.ok(result.outcome === 'scheduled', `outcome ${result.outcome}`);
        assert.ok(result.destroyTime >= before);
        assert.equal((await backend.observe(key))?.state, 'DestroyScheduled');
      });

      it('touches only the version it names: another version and another key stay', async () => {
        const v1 = identity();
        const spec = { algorithm, usages };
        const first = recorded(v1, await create(v1, spec));
        const second = { ...v1, version: 2 };
        const secondVersion = await create(second, spec);
        const other = identity();
        const otherVersion = await create(other, spec);
        await backend.destroy(first, { delaySeconds: 0 });
        assert.equal((await backend.observe(recorded(second, secondVersion)))?.state, 'Enabled');
        assert.equal((await backend.observe(recorded(other, otherVersion)))?.state, 'Enabled');
      });

      it('a version it never made is absent, not an error', async () => {
        const id = identity();
        assert.equal(await backend.observe(id), undefined);
        await assert.rejects(backend.publicKey(id), NotFoundError);
        assert.deepEqual(await backend.destroy(id, { delaySeconds: 0 }), { outcome: 'absent' });
        assert.deepEqual(await backend.versions(id), []);
      });
    });

    describe('recovery backups', () => {
      const recoverable: KeySpec = {
        algorithm: 'AES_256',
        usages: ['encrypt', 'decrypt'],
        recoverable: true,
      };

      it(
        'wraps a recoverable key once, seals it for good, and restores exactly that key',
        skipIf('recoveryWrap'),
        async () => {
          const id = identity();
          const version = recorded(id, await create(id, recoverable));
          const wrap = await backend.wrapForRecovery!(version);
          assert.equal(wrap.outcome, 'wrapped');
          assert.equal(wrap.kek.length, 32, 'an AES-256 key-encryption key');
          assert.equal(wrap.wrappedKey.length, 40, 'RFC 5649: 32 bytes of key and 8 of integrity check');
          assert.match(wrap.checkValue, /^[0-9a-f]{6}$/);
          assert.equal(await backend.sealRecovery!(version), wrap.checkValue);
          assert.deepEqual(await backend.wrapForRecovery!(version), {
            outcome: 'sealed',
            checkValue: wrap.checkValue,
          });

          const restore = { algorithm: 'AES_256' as const, usages: recoverable.usages, ...wrap };
          const copy = identity();
          const restored = await backend.restoreKey!(copy, restore);
          assert.equal(restored.outcome, 'created');
          const observed = await backend.observe(recorded(copy, restored.version));
          assert.ok(observed);
          assert.equal(observed.state, 'Enabled');
          assert.deepEqual([...observed.usages].sort(), ['decrypt', 'encrypt']);
          assert.equal(
            (await backend.restoreKey!(copy, restore)).outcome,
            'adopted',
            'restored once, never twice',
          );
        },
      );

      it(
        'refuses a wrapped copy that was altered, or that unwraps to another key, and stores nothing',
        skipIf('recoveryWrap'),
        async () => {
          const id = identity();
          const version = recorded(id, await create(id, recoverable));
          const wrap = await backend.wrapForRecovery!(version);
          if (wrap.outcome !== 'wrapped') assert.fail('not wrapped');
          const altered = Buffer.from(wrap.wrappedKey);
          altered[7] = (altered[7] ?? 0) ^ 1;
          const target = identity();
          const base = { algorithm: 'AES_256' as const, usages: recoverable.usages, kek: wrap.kek };
          await assert.rejects(
            backend.restoreKey!(target, { ...base, wrappedKey: altered, checkValue: wrap.checkValue }),
            /does not unwrap under the rebuilt key-encryption key/,
          );
          await assert.rejects(
            backend.restoreKey!(target, { ...base, wrappedKey: wrap.wrappedKey, checkValue: '000000' }),
            /has check value [0-9a-f]{6}, not 000000; nothing was stored/,
          );
          assert.equal(await backend.observe(target), undefined);
        },
      );

      it('a key not made recoverable is never wrapped', skipIf('recoveryWrap'), async () => {
        const id = identity();
        const version = recorded(
          id,
          await create(id, { algorithm: 'AES_256', usages: ['encrypt', 'decrypt'] }),
        );
        const wrap = await backend.wrapForRecovery!(version);
        assert.equal(wrap.outcome, 'sealed');
      });
    });

    describe('guards', () => {
      it('refuses to act on a version recorded on another target', async () => {
        const id = identity();
        const version = await create(id, primarySpec);
        const elsewhere = { ...recorded(id, version), target: `${backend.target.id}-elsewhere` };
        await assert.rejects(backend.observe(elsewhere), TargetMismatchError);
        await assert.rejects(backend.destroy(elsewhere, { delaySeconds: 0 }), TargetMismatchError);
        assert.equal((await backend.observe(recorded(id, version)))?.versionId, version.versionId);
      });

      it('a cancelled call ends with a RetryableError and does nothing', async () => {
        const id = identity();
        const controller = new AbortController();
        controller.abort();
        await assert.rejects(backend.create(id, primarySpec, { signal: controller.signal }), RetryableError);
        assert.equal(await backend.observe(id), undefined);
      });
    });
  });
}
