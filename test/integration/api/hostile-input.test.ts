// Hostile input sent to the real API server with the controllers running: ManagedKeys, KeyBackends, KeyCeremonies
// and KeyCeremonyApprovals generated from the API's own schemas (test/support/arbitraries.ts), mostly valid and
// sometimes just outside, plus what a generator rarely finds (oversized objects, odd unicode in names and subjects,
// malformed PEM). Each object is either refused at admission with a message, or gets a condition with a reason and
// a message; no reconcile crashes; and an object that was refused by a condition settles instead of being
// reconciled in a hot loop. Replay a run with KEYWARD_FUZZ_SEED=<seed printed below>.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { remove } from '../../../scripts/cluster.ts';
import { ALLOWED_USAGES } from '../../../src/api/algorithms.ts';
import type { Algorithm } from '../../../src/api/algorithms.ts';
import { KeyBackend } from '../../../src/api/v1alpha1/keybackend.ts';
import { BACKEND_KINDS } from '../../../src/api/v1alpha1/keybackend.ts';
import { KeyCeremony } from '../../../src/api/v1alpha1/keyceremony.ts';
import { KeyCeremonyApproval } from '../../../src/api/v1alpha1/keyceremonyapproval.ts';
import { ManagedKey } from '../../../src/api/v1alpha1/managedkey.ts';
import { keyBackendType } from '../../../src/controllers/keybackend/controller.ts';
import { keyApprovalType, keyCeremonyType } from '../../../src/controllers/keyceremony/context.ts';
import { managedKeyType } from '../../../src/controllers/managedkey/controller.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import { KubeApiError } from '../../../src/kube/errors.ts';
import type { KubeObject } from '../../../src/kube/object.ts';
import type { ResourceType } from '../../../src/kube/resource.ts';
import { metricValue } from '../../fixtures/runtime-env.ts';
import { arbitraryOf, fuzzSeed, oddString } from '../../support/arbitraries.ts';
import type { ArbitraryOptions } from '../../support/arbitraries.ts';
import { ceremonyManifest, offlineBackendManifest } from '../../support/ceremony.ts';
import { PIN_SECRET, setUpSoftHsmBackend } from '../../support/keyward.ts';
import { SOFTHSM_MODULE } from '../../support/softhsm.ts';
import type { SoftHsmSetup } from '../../support/keyward.ts';
import { OpenSsl } from '../../support/openssl.ts';
import { eventually, startTestOperator } from '../../support/operator.ts';
import type { TestOperator } from '../../support/operator.ts';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `hostile-${RUN}`;
const BACKEND = `hostile-${RUN}`;
const OFFLINE = `hostile-offline-${RUN}`;
const SEED = fuzzSeed();
const RUNS = Number(process.env.KEYWARD_FUZZ_RUNS ?? 100);
/** Cloud endpoints point at a closed loopback port: generated specs never reach out of the machine. */
const CLOSED = '127.0.0.1:1';
/** A reconcile every few seconds (backoff, health checks) is fine; a hot loop is hundreds. */
const SETTLE_WINDOW_MS = 10_000;
const MAX_RECONCILES_IN_WINDOW = 12;

type Condition = { type: string; status: string; reason: string; message: string };
type Observed = KubeObject & { status?: { conditions?: Condition[] } };

interface Sent {
  type: ResourceType;
  name: string;
  namespace?: string;
  object: KubeObject;
}

describe(`hostile input (seed ${String(SEED)}, ${String(RUNS)} runs per kind)`, () => {
  let client: KubeClient;
  let setup: SoftHsmSetup;
  let operator: TestOperator;
  const openssl = new OpenSsl();
  const people: Record<string, string> = {};
  const accepted: Sent[] = [];
  const crashes: unknown[] = [];
  const onCrash = (error: unknown): void => {
    crashes.push(error);
  };
  let count = 0;

  before(async () => {
    console.error(`hostile input: seed ${String(SEED)} (replay with KEYWARD_FUZZ_SEED=${String(SEED)})`);
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
    setup = await setUpSoftHsmBackend(BACKEND, { namespace: NAMESPACE });
    client = setup.client;
    await client.create(keyBackendType, offlineBackendManifest(OFFLINE, `offline-${RUN}`));
    for (const name of ['alice', 'bob', 'carol']) people[name] = openssl.keygen(name, 'ec-p256');
    operator = await startTestOperator(client);
  });

  after(async () => {
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
    await operator.stop();
    for (const sent of accepted.filter((s) => s.type === keyBackendType)) {
      await remove(client, sent.object);
    }
    await remove(client, offlineBackendManifest(OFFLINE, ''));
    await setup.cleanup();
    openssl.remove();
  });

  /** Sends one object: refused with a message, or kept to check its conditions later. */
  async function send(type: ResourceType, object: KubeObject): Promise<void> {
    try {
      await client.create(type, object);
    } catch (error) {
      if (!(error instanceof KubeApiError)) throw error;
      assert.ok(
        [400, 413, 422].includes(error.statusCode),
        `${object.kind} refused with ${String(error.statusCode)}: ${error.message}`,
      );
      assert.match(error.message, /\S{3,}/, 'a refusal says why');
      if (process.env.KEYWARD_FUZZ_VERBOSE === '1')
        console.error(`refused ${object.kind}: ${error.message.slice(0, 300)}`);
      return;
    }
    const { name = '', namespace } = object.metadata;
    accepted.push({ type, name, ...(namespace === undefined ? {} : { namespace }), object });
  }

  const nextName = (prefix: string): string => `${prefix}-${RUN}-${String((count += 1))}`;
  const ref = (real: string) =>
    fc.oneof(fc.constant({ name: real }), arbitraryOf(ManagedKey.spec.properties.backendRef));
  /** Half the objects valid field by field (so that controllers see them), half with fields just outside too. */
  const specOf = (schema: object, options: ArbitraryOptions) =>
    fc.oneof(arbitraryOf(schema, { ...options, outside: 0 }), arbitraryOf(schema, options));
  const fuzz = async (arbitrary: fc.Arbitrary<KubeObject>, type: ResourceType): Promise<void> => {
    await fc.assert(
      fc.asyncProperty(arbitrary, async (object) => {
        await send(type, object);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  };

  it('ManagedKeys', async () => {
    const spec = specOf(ManagedKey.spec, { overrides: { backendRef: ref(BACKEND) } });
    // Usages that go with the algorithm, most of the time (the CEL rules refuse the rest).
    const consistent = fc.tuple(spec, fc.integer({ min: 0, max: 9 }), fc.nat()).map(([s, dice, pick]) => {
      // The whole spec may be just outside too (null, a number): sent as it is.
      if (s === null || typeof s !== 'object' || Array.isArray(s)) return s;
      const body = s as { algorithm?: unknown; usages?: unknown; recovery?: unknown };
      const allowed = ALLOWED_USAGES[body.algorithm as Algorithm] as readonly string[] | undefined;
      if (dice < 7 && allowed !== undefined) {
        body.usages = allowed.filter((_, i) => ((pick >> i) & 1) === 1 || i === pick % allowed.length);
        if (!allowed.includes('wrap')) delete body.recovery;
      }
      return body;
    });
    await fuzz(
      consistent.map((s) => ({
        apiVersion: 'keyward.io/v1alpha1',
        kind: 'ManagedKey',
        metadata: { name: nextName('mk'), namespace: NAMESPACE },
        spec: s,
      })),
      managedKeyType,
    );
  });

  it('KeyBackends (one backend kind each, cloud endpoints on a closed loopback port, credentials always from a Secret)', async () => {
    const tokenSelector = KeyBackend.spec.properties.pkcs11.properties.token;
    const spec = specOf(KeyBackend.spec, {
      overrides: {
        // Often the real module and PIN, so that random token selectors and session counts reach the token.
        'pkcs11.modulePath': fc.oneof(
          fc.constant(SOFTHSM_MODULE),
          arbitraryOf(KeyBackend.spec.properties.pkcs11.properties.modulePath),
        ),
        // Mostly activation by Secret (left out), which the real PIN Secret can serve.
        'pkcs11.activation': fc.oneof(
          { weight: 3, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: fc.constantFrom('Secret', 'Ceremony') },
        ),
        // Exactly one selector, as the CEL rule asks, most of the time.
        'pkcs11.token': fc.oneof(
          ...(['label', 'serial', 'slotId'] as const).map((field) =>
            fc.record({ [field]: arbitraryOf(tokenSelector.properties[field], { outside: 0 }) }),
          ),
          arbitraryOf(tokenSelector),
        ),
        'pkcs11.pinSecretRef': fc.oneof(
          fc.constant({ namespace: NAMESPACE, name: PIN_SECRET, key: 'pin' }),
          arbitraryOf(KeyBackend.spec.properties.pkcs11.properties.pinSecretRef),
        ),
        'awsKMS.endpoint': fc.constant(`http://${CLOSED}`),
        'awsCloudHSM.endpoint': fc.constant(`http://${CLOSED}`),
        'azureKeyVault.vaultUrl': fc.constant(`https://${CLOSED}`),
        'azureKeyVault.authorityHost': fc.constant(`https://${CLOSED}`),
        'gcpKMS.endpoint': fc.constant(`http://${CLOSED}`),
      },
    });
    const credentialsRef = arbitraryOf(KeyBackend.spec.properties.awsKMS.properties.credentialsSecretRef, {
      outside: 0,
    });
    await fuzz(
      fc.tuple(spec, fc.constantFrom(...BACKEND_KINDS), credentialsRef).map(([s, kind, secretRef]) => {
        const body = { ...(s as Record<string, unknown>) };
        for (const other of BACKEND_KINDS) if (other !== kind) Reflect.deleteProperty(body, other);
        const part = body[kind];
        // Without a Secret the cloud SDKs would look for credentials on the machine (instance metadata).
        if (kind !== 'pkcs11' && part !== null && typeof part === 'object') {
          Object.assign(part, { credentialsSecretRef: secretRef });
        }
        return {
          apiVersion: 'keyward.io/v1alpha1',
          kind: 'KeyBackend',
          metadata: { name: nextName('kb') },
          spec: body,
        };
      }),
      keyBackendType,
    );
  });

  it('KeyCeremonies (custodians with real keys and malformed PEM, subjects with odd unicode)', async () => {
    const publicKey = fc.oneof(
      fc.constantFrom(...Object.values(people)),
      arbitraryOf(KeyCeremony.spec.properties.witnesses.items.properties.publicKey),
    );
    const spec = specOf(KeyCeremony.spec, {
      overrides: {
        backendRef: ref(OFFLINE),
        'quorum.threshold': fc.integer({ min: 1, max: 4 }),
        'quorum.custodians[].publicKey': publicKey,
        'witnesses[].publicKey': publicKey,
        'certificate.subject': fc.oneof(
          fc.constant('CN=Example Root CA,O=Example,C=DE'),
          oddString(60).map((odd) => `CN=Example ${odd} Root,O=Example,C=DE`),
          arbitraryOf(KeyCeremony.spec.properties.certificate.properties.subject),
        ),
      },
    });
    await fuzz(
      spec.map((s) => ({
        apiVersion: 'keyward.io/v1alpha1',
        kind: 'KeyCeremony',
        metadata: { name: nextName('kc'), namespace: NAMESPACE },
        spec: s,
      })),
      keyCeremonyType,
    );
  });

  it('KeyCeremonyApprovals (for a real ceremony and for none: bogus, truncated signatures and shares)', async () => {
    const ceremony = ceremonyManifest(nextName('real'), {
      namespace: NAMESPACE,
      backend: OFFLINE,
      threshold: 2,
      custodians: ['alice', 'bob'].map((name) => ({ name, publicKey: people[name] ?? '' })),
      witnesses: [{ name: 'carol', publicKey: people.carol ?? '' }],
    });
    await client.create(keyCeremonyType, ceremony);
    const challenge = await eventually('the real ceremony has a challenge', async () => {
      const c = await client.get<KubeObject & { status?: { challenge?: string } }>(
        keyCeremonyType,
        ceremony.metadata.name ?? '',
        NAMESPACE,
      );
      return c.status?.challenge;
    });
    const good = openssl.sign('alice', 'ec-p256', challenge);
    const spec = specOf(KeyCeremonyApproval.spec, {
      overrides: {
        ceremonyRef: ref(ceremony.metadata.name ?? ''),
        signer: fc.oneof(fc.constantFrom('alice', 'bob', 'carol'), oddString(20)),
        signedDigest: fc.oneof(
          fc.constant(challenge),
          arbitraryOf(KeyCeremonyApproval.spec.properties.signedDigest),
        ),
        signature: fc.oneof(
          fc.constant(good.slice(0, Math.floor(good.length / 2))), // truncated
          fc.uint8Array({ minLength: 1, maxLength: 600 }).map((b) => Buffer.from(b).toString('base64')),
          arbitraryOf(KeyCeremonyApproval.spec.properties.signature),
        ),
      },
    });
    await fuzz(
      spec.map((s) => ({
        apiVersion: 'keyward.io/v1alpha1',
        kind: 'KeyCeremonyApproval',
        metadata: { name: nextName('kcap'), namespace: NAMESPACE },
        spec: s,
      })),
      keyApprovalType,
    );
  });

  it('what a generator rarely finds: an oversized object, odd unicode in names and annotations', async () => {
    const key = (name: string, extra: Partial<KubeObject['metadata']> = {}) => ({
      apiVersion: 'keyward.io/v1alpha1',
      kind: 'ManagedKey',
      metadata: { name, namespace: NAMESPACE, ...extra },
      spec: { backendRef: { name: BACKEND }, algorithm: 'EC_P256', usages: ['sign', 'verify'] },
    });
    const refusedWith = async (object: KubeObject, message: RegExp) => {
      await assert.rejects(client.create(managedKeyType, object), (error: unknown) => {
        assert.ok(error instanceof KubeApiError, String(error));
        assert.match(error.message, message);
        return true;
      });
    };
    // etcd keeps objects under 1.5 MiB; the API server refuses more before it gets there.
    await refusedWith(
      key(nextName('huge'), { annotations: { 'test.keyward.io/huge': 'x'.repeat(3 * 1024 * 1024) } }),
      /too large|exceeds|must have at most/i,
    );
    for (const odd of ['\u202eevil', 'caf\u00e9', 'nul\u0000', '\u{1f511}']) {
      await refusedWith(key(`odd-${odd}`), /lowercase RFC 1123|a valid name|metadata\.name/i);
    }
    // Annotations may hold any text: the key is still made, and the odd text comes back unchanged.
    const name = nextName('odd-annotation');
    const odd = '\u202e\u0301\u{1f469}\u200d\u{1f52c}\u2028"\\';
    await client.create(managedKeyType, key(name, { annotations: { 'test.keyward.io/odd': odd } }));
    const ready = await eventually('the key with odd annotations Ready', async () => {
      const k = await client.get<Observed>(managedKeyType, name, NAMESPACE);
      return k.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? k : undefined;
    });
    assert.equal(ready.metadata.annotations?.['test.keyward.io/odd'], odd);
  });

  it('malformed and truncated PEM keys of custodians, and subjects that display as another name, fail Preparation and say why', async () => {
    const alice = people.alice ?? '';
    const body = alice.replace(/-----[^-]+-----|\s/g, '');
    const cases: [string, Partial<{ publicKey: string; subject: string }>, RegExp][] = [
      ['truncated-pem', { publicKey: alice.slice(0, Math.floor(alice.length / 2)) }, /alice/],
      [
        'garbage-pem',
        {
          publicKey: `-----BEGIN PUBLIC KEY-----\n${body.slice(0, 20)}!!${body.slice(22)}\n-----END PUBLIC KEY-----\n`,
        },
        /alice/,
      ],
      [
        'not-a-key',
        {
          publicKey: `-----BEGIN PUBLIC KEY-----\n${Buffer.from('hello').toString('base64')}\n-----END PUBLIC KEY-----\n`,
        },
        /alice/,
      ],
      ['rtl-subject', { subject: 'CN=Example \u202eAC tooR,O=Example,C=DE' }, /U\+202E/],
      ['nul-subject', { subject: 'CN=Example\u0000Root,O=Example,C=DE' }, /U\+0000/],
    ];
    for (const [name, change, message] of cases) {
      const manifest = ceremonyManifest(`${name}-${RUN}`, {
        namespace: NAMESPACE,
        backend: OFFLINE,
        threshold: 2,
        custodians: [
          { name: 'alice', publicKey: change.publicKey ?? alice },
          { name: 'bob', publicKey: people.bob ?? '' },
        ],
        witnesses: [{ name: 'carol', publicKey: people.carol ?? '' }],
      }) as KubeObject & { spec: { certificate: { subject: string } } };
      if (change.subject !== undefined) manifest.spec.certificate.subject = change.subject;
      await client.create(keyCeremonyType, manifest);
      const failed = await eventually(`${name} failed at Preparation`, async () => {
        const c = await client.get<Observed & { status?: { phase?: string } }>(
          keyCeremonyType,
          manifest.metadata.name ?? '',
          NAMESPACE,
        );
        return c.status?.phase === 'Failed' ? c : undefined;
      });
      const ready = failed.status?.conditions?.find((c) => c.type === 'Ready');
      assert.equal(ready?.status, 'False', name);
      assert.match(ready.message, message, name);
      accepted.push({
        type: keyCeremonyType,
        name: manifest.metadata.name ?? '',
        namespace: NAMESPACE,
        object: manifest,
      });
    }
  });

  it('every accepted object gets a condition with a reason and a message, and settles', async () => {
    assert.ok(accepted.length > 0, 'something was accepted');
    const waiting = new Set(accepted);
    const reasons = new Map<string, number>();
    await eventually(
      'a condition on every accepted object',
      async () => {
        for (const sent of [...waiting]) {
          const object = await client.get<Observed>(sent.type, sent.name, sent.namespace);
          const conditions = object.status?.conditions ?? [];
          if (conditions.length > 0) {
            for (const c of conditions) {
              const seen = `${object.kind} ${c.type}=${c.status} ${c.reason}`;
              reasons.set(seen, (reasons.get(seen) ?? 0) + 1);
              assert.match(c.reason, /^[A-Za-z]\w*$/, `${sent.name}: reason`);
              assert.ok(c.message.trim().length > 0, `${sent.name} ${c.type}: a message`);
            }
            waiting.delete(sent);
          }
        }
        return waiting.size === 0;
      },
      180_000,
    ).catch((error: unknown) => {
      const names = [...waiting].map((s) => `${s.object.kind} ${s.name}: ${JSON.stringify(s.object)}`);
      throw new Error(`${String(error)}; without a condition:\n${names.join('\n')}`);
    });

    // Reconciles per object over a window, from the operator's own log of each reconcile.
    const reconciles = (): Map<string, number> => {
      const counts = new Map<string, number>();
      for (const line of operator.logs) {
        const record = JSON.parse(line) as { msg?: string; name?: string };
        if (record.name === undefined || !/^reconcile(d| failed)/.test(record.msg ?? '')) continue;
        counts.set(record.name, (counts.get(record.name) ?? 0) + 1);
      }
      return counts;
    };
    const before = reconciles();
    await new Promise((resolve) => setTimeout(resolve, SETTLE_WINDOW_MS));
    const afterWindow = reconciles();
    for (const sent of accepted) {
      const inWindow = (afterWindow.get(sent.name) ?? 0) - (before.get(sent.name) ?? 0);
      assert.ok(
        inWindow <= MAX_RECONCILES_IN_WINDOW,
        `${sent.object.kind} ${sent.name} was reconciled ${String(inWindow)} times in ${String(SETTLE_WINDOW_MS / 1000)}s: ${JSON.stringify(sent.object)}`,
      );
    }
    const panics = await metricValue(operator.manager.metrics, 'controller_runtime_reconcile_panics_total');
    const crashed = operator.logs.filter((l) => l.includes('reconcile crashed'));
    assert.deepEqual(crashed, [], 'no reconcile crashed');
    assert.ok((panics ?? 0) === 0, `${String(panics)} reconcile panics`);
    assert.deepEqual(crashes, [], 'nothing was thrown out of the operator uncaught');
    console.error(
      `hostile input: ${String(accepted.length)} of ${String(count)} objects accepted, all settled; conditions:\n  ${[...reasons].map(([r, n]) => `${r} x${String(n)}`).join('\n  ')}`,
    );
  });
});
