// The CRDs against a real kube-apiserver: every example is accepted, invalid objects are rejected at admission with
// a message that says what is wrong, and immutable fields stay immutable.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { apply, installCrds, loadManifests, remove } from '../../../scripts/cluster.ts';
import type { Manifest } from '../../../scripts/cluster.ts';
import { REPO_ROOT, apiErrorMessage, testCluster } from '../../support/kube.ts';
import type { TestCluster } from '../../support/kube.ts';
import type {
  KeyBackendObject,
  KeyCeremonyObject,
  ManagedKeyObject,
} from '../../../src/api/v1alpha1/index.ts';

// examples/cloud/ holds KeyBackends for the cloud backends: admitted here, not applied by scripts/run.sh.
const examples = [
  ...(await loadManifests(path.join(REPO_ROOT, 'examples'))),
  ...(await loadManifests(path.join(REPO_ROOT, 'examples', 'cloud'))),
];

// Objects get names of their own in each run, so that a run never meets what an earlier one left behind.
const RUN = randomBytes(3).toString('hex');
function example(kind: string, name: string): unknown {
  const found = examples.find((e) => e.object.kind === kind && e.object.metadata?.name === name);
  assert.ok(found, `examples/ has no ${kind} ${name}`);
  const object = structuredClone(found.object);
  return { ...object, metadata: { ...object.metadata, name: `${name}-${RUN}` } };
}

const backend = () => example('KeyBackend', 'softhsm-dev') as KeyBackendObject;
const signingKey = () => example('ManagedKey', 'payments-signing') as ManagedKeyObject;
const wrappingKey = () => example('ManagedKey', 'data-wrapping') as ManagedKeyObject;
const ceremony = () => example('KeyCeremony', 'root-ca-2026') as KeyCeremonyObject;

/** A copy of an example with a change to its spec (Object.assign where the change breaks the schema's types). */
function edit<T extends { spec: object }>(base: () => T, change: (spec: T['spec']) => void): T {
  const object = base();
  change(object.spec);
  return object;
}

const PEM = ceremony().spec.quorum.custodians[0]!.publicKey;

/** Each invalid object and a part of the message the API server must answer with. */
const invalid: { name: string; object: Manifest; message: string | RegExp }[] = [
  {
    name: 'a KeyBackend with two backends',
    object: edit(
      backend,
      (s) =>
        (s.gcpKMS = {
          project: 'my-project',
          location: 'eu',
          keyRing: 'k',
          protectionLevel: 'HSM',
          destroyScheduledDuration: '24h',
        }),
    ),
    message: 'exactly one backend must be set: pkcs11, awsCloudHSM, awsKMS, azureKeyVault or gcpKMS',
  },
  {
    name: 'a Cloud HSM KeyBackend claiming FIPS level 4',
    object: edit(backend, (s) => {
      delete s.pkcs11;
      s.fipsLevel = 4;
      s.gcpKMS = {
        project: 'my-project',
        location: 'eu',
        keyRing: 'k',
        protectionLevel: 'HSM',
        destroyScheduledDuration: '24h',
      };
    }),
    message: 'fipsLevel must be at most 3 with protectionLevel HSM',
  },
  {
    name: 'a software Cloud KMS KeyBackend claiming FIPS level 2',
    object: edit(backend, (s) => {
      delete s.pkcs11;
      s.fipsLevel = 2;
      s.gcpKMS = {
        project: 'my-project',
        location: 'eu',
        keyRing: 'k',
        protectionLevel: 'SOFTWARE',
        destroyScheduledDuration: '24h',
      };
    }),
    message: 'fipsLevel must be 1 with protectionLevel SOFTWARE',
  },
  {
    name: 'a Cloud KMS destroyScheduledDuration under 24h',
    object: edit(backend, (s) => {
      delete s.pkcs11;
      s.fipsLevel = 3;
      s.gcpKMS = {
        project: 'my-project',
        location: 'eu',
        keyRing: 'k',
        protectionLevel: 'HSM',
        destroyScheduledDuration: '1h',
      };
    }),
    message: 'destroyScheduledDuration must be at least 24h (the Cloud KMS minimum)',
  },
  {
    name: 'a KeyBackend with no backend',
    object: edit(backend, (s) => delete s.pkcs11),
    message: 'exactly one backend must be set',
  },
  {
    name: 'fipsLevel 5',
    object: edit(backend, (s) => (s.fipsLevel = 5)),
    message: 'spec.fipsLevel: Invalid value: 5: spec.fipsLevel in body should be less than or equal to 4',
  },
  {
    name: 'fipsLevel 0',
    object: edit(backend, (s) => (s.fipsLevel = 0)),
    message: 'should be greater than or equal to 1',
  },
  {
    name: 'a token chosen by both label and slot id',
    object: edit(backend, (s) => (s.pkcs11!.token = { label: 'a', slotId: 1 })),
    message: 'token must name exactly one of label, serial or slotId',
  },
  {
    name: 'an unknown PKCS#11 vendor',
    object: edit(backend, (s) => Object.assign(s.pkcs11!, { vendor: 'acme' })),
    message: 'spec.pkcs11.vendor: Unsupported value: "acme"',
  },
  {
    name: 'a relative PKCS#11 module path',
    object: edit(backend, (s) => (s.pkcs11!.modulePath = 'libsofthsm2.so')),
    message: 'spec.pkcs11.modulePath',
  },
  {
    name: 'an unknown algorithm',
    object: edit(signingKey, (s) => Object.assign(s, { algorithm: 'DES' })),
    message: 'spec.algorithm: Unsupported value: "DES"',
  },
  {
    name: 'an AES key that signs',
    object: edit(wrappingKey, (s) => (s.usages = ['sign', 'wrap'])),
    message: 'AES_256 keys can only be used to encrypt, decrypt, wrap and unwrap',
  },
  {
    name: 'an Ed25519 key that encrypts',
    object: edit(signingKey, (s) => {
      s.algorithm = 'ED25519';
      s.usages = ['sign', 'encrypt'];
    }),
    message: 'EC_P256, EC_P384, EC_P521, ED25519 and HMAC_SHA256 keys can only be used to sign and verify',
  },
  {
    name: 'an exportable signing key',
    object: edit(signingKey, (s) => {
      s.algorithm = 'RSA_2048';
      s.protection = { exportable: true };
    }),
    message: 'a signing key cannot be exportable',
  },
  {
    name: 'recovery on a signing key',
    object: edit(
      signingKey,
      (s) =>
        (s.recovery = {
          threshold: 2,
          custodians: [
            { name: 'alice', publicKey: PEM },
            { name: 'bob', publicKey: PEM },
          ],
        }),
    ),
    message: 'recovery is only for encryption and wrapping keys',
  },
  {
    name: 'recovery on an RSA decryption key',
    object: edit(wrappingKey, (s) => {
      s.algorithm = 'RSA_3072';
      s.usages = ['encrypt', 'decrypt'];
    }),
    message: 'recovery is for AES_256 keys: only a secret key is wrapped for recovery',
  },
  {
    name: 'destroyRequiresCeremony with destroyArchivedAfter',
    object: edit(wrappingKey, (s) => {
      s.destroyRequiresCeremony = true;
      s.rotation = { period: '4380h', retainVersions: 2, destroyArchivedAfter: '720h' };
    }),
    message: 'destroyRequiresCeremony and rotation.destroyArchivedAfter do not go together',
  },
  {
    name: 'a recovery threshold of 1',
    object: edit(wrappingKey, (s) => (s.recovery!.threshold = 1)),
    message: 'spec.recovery.threshold in body should be greater than or equal to 2',
  },
  {
    name: 'a recovery threshold above the number of custodians',
    object: edit(wrappingKey, (s) => (s.recovery!.threshold = 6)),
    message: 'recovery.threshold cannot be larger than the number of custodians',
  },
  {
    name: 'a custodian listed twice',
    object: edit(wrappingKey, (s) => (s.recovery!.custodians[1]!.name = 'alice')),
    message: 'custodian names must be distinct',
  },
  {
    name: 'a rotation period under 1h',
    object: edit(signingKey, (s) => (s.rotation!.period = '30m')),
    message: 'rotation.period must be at least 1h',
  },
  {
    name: 'a rotation period in days',
    object: edit(signingKey, (s) => (s.rotation!.period = '90d')),
    message: 'spec.rotation.period: Invalid value: "90d": must be a duration such as 90m, 36h or 2160h',
  },
  {
    name: 'destroyAfter under 24h',
    object: edit(signingKey, (s) => (s.destroyAfter = '1h')),
    message: 'destroyAfter must be at least 24h',
  },
  {
    name: 'retainVersions out of range',
    object: edit(signingKey, (s) => (s.rotation!.retainVersions = 500)),
    message: 'spec.rotation.retainVersions in body should be less than or equal to 100',
  },
  {
    name: 'no usages',
    object: edit(signingKey, (s) => (s.usages = [])),
    message: 'spec.usages in body should have at least 1 items',
  },
  {
    name: 'a maintenance window longer than a week',
    object: edit(signingKey, (s) => (s.rotation!.windows![0]!.duration = '200h')),
    message: 'a window may stay open at most 168h (one week)',
  },
  {
    name: 'a maintenance window that never opens',
    object: edit(signingKey, (s) => (s.rotation!.windows![0]!.cron = '0 2 30 2 *')),
    message: 'this window never opens: February has no day 30 or 31',
  },
  {
    name: 'a maintenance window that is not a cron expression',
    object: edit(signingKey, (s) => (s.rotation!.windows![0]!.cron = 'every night')),
    message: 'must be a five-field cron expression',
  },
  {
    name: 'a ManagedKey without a backend',
    object: edit(signingKey, (s) => Reflect.deleteProperty(s, 'backendRef')),
    message: 'spec.backendRef: Required value',
  },
  {
    name: 'a root certificate valid 30 years',
    object: edit(ceremony, (s) => (s.certificate!.validity = '262800h')),
    message: 'a root certificate may be valid at most 25 years (219000h)',
  },
  {
    name: 'a root certificate valid 5 years',
    object: edit(ceremony, (s) => (s.certificate!.validity = '43800h')),
    message: 'a root certificate must be valid at least 15 years (131400h)',
  },
  {
    name: 'a ceremony any one custodian can run alone',
    object: edit(ceremony, (s) => (s.quorum.threshold = 1)),
    message: 'spec.quorum.threshold in body should be greater than or equal to 2',
  },
  {
    name: 'a ceremony threshold above the number of custodians',
    object: edit(ceremony, (s) => (s.quorum.threshold = 6)),
    message: 'quorum.threshold cannot be larger than the number of custodians',
  },
  {
    name: 'a witness who is also a custodian',
    object: edit(ceremony, (s) => (s.witnesses[0]!.name = 'alice')),
    message: 'a witness cannot also be a custodian',
  },
  {
    name: 'a root key ceremony without a certificate',
    object: edit(ceremony, (s) => delete s.certificate),
    message: 'a RootKeyGeneration ceremony needs key and certificate',
  },
  {
    name: 'a symmetric root key',
    object: edit(ceremony, (s) => Object.assign(s.key!, { algorithm: 'AES_256' })),
    message: 'spec.key.algorithm: Unsupported value: "AES_256"',
  },
];

describe('admission of Keyward objects by a real API server', () => {
  let cluster: TestCluster;

  before(async () => {
    cluster = await testCluster();
    await installCrds(cluster.client);
  });

  const created: Manifest[] = [];
  after(async () => {
    for (const object of created) await remove(cluster.client, object);
  });

  it('accepts every object in examples/', async () => {
    for (const { file, object } of examples) {
      // Namespaces are made for real (the other tests need them); everything else is admitted and not kept.
      const dryRun = object.kind !== 'Namespace';
      const renamed = dryRun
        ? { ...object, metadata: { ...object.metadata, name: `${object.metadata?.name ?? ''}-${RUN}` } }
        : object;
      await apply(cluster.client, renamed, { dryRun }).catch((error: unknown) => {
        assert.fail(`${file}: ${object.kind} ${object.metadata?.name}: ${apiErrorMessage(error)}`);
      });
    }
  });

  for (const { name, object, message } of invalid) {
    it(`rejects ${name}`, async () => {
      const error = await apply(cluster.client, object, { dryRun: true }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(error, `the API server accepted ${name}`);
      const text = apiErrorMessage(error);
      if (typeof message === 'string') assert.ok(text.includes(message), `expected "${message}" in: ${text}`);
      else assert.match(text, message);
    });
  }

  describe('immutable fields', () => {
    const immutableChanges: {
      name: string;
      original: Manifest;
      changed: Manifest;
      message: string;
    }[] = [
      {
        name: "a key's algorithm",
        original: signingKey(),
        changed: edit(signingKey, (s) => (s.algorithm = 'EC_P384')),
        message: 'algorithm is immutable once set',
      },
      {
        name: "a key's usages",
        original: signingKey(),
        changed: edit(signingKey, (s) => (s.usages = ['sign'])),
        message: 'usages is immutable once set',
      },
      {
        name: "a key's backend",
        original: signingKey(),
        changed: edit(signingKey, (s) => (s.backendRef = { name: 'another' })),
        message: 'backendRef is immutable once set',
      },
      {
        name: "a key's exportable flag",
        original: wrappingKey(),
        changed: edit(wrappingKey, (s) => (s.protection.exportable = true)),
        message: 'protection.exportable is immutable once set',
      },
      {
        name: "a key's recovery (removed)",
        original: wrappingKey(),
        changed: edit(wrappingKey, (s) => delete s.recovery),
        message: 'spec.recovery can only be set when the ManagedKey is created, and not removed',
      },
      {
        name: "a key's destroyRequiresCeremony (turned off)",
        original: edit(wrappingKey, (s) => (s.destroyRequiresCeremony = true)),
        changed: edit(wrappingKey, (s) => (s.destroyRequiresCeremony = false)),
        message: 'destroyRequiresCeremony cannot be turned off once on',
      },
      {
        name: "a ceremony's spec",
        original: ceremony(),
        changed: edit(ceremony, (s) => (s.deadline = '48h')),
        message: 'a KeyCeremony spec (custodians approved exactly this one; create a new ceremony instead)',
      },
    ];
    for (const { name, original, changed, message } of immutableChanges) {
      it(`refuses to change ${name}`, async () => {
        await apply(cluster.client, original);
        created.push(original);
        const error = await apply(cluster.client, changed).then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(error, `the API server let ${name} change`);
        const text = apiErrorMessage(error);
        assert.ok(text.includes(message), `expected "${message}" in: ${text}`);
      });
    }
  });
});
