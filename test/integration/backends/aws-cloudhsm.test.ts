// The AWS CloudHSM backend: cluster health from moto's CloudHSM v2 API (its clusters are born ACTIVE, with no HSMs
// and one backup), keys through SoftHSM2 standing in for the CloudHSM PKCS#11 library, with the cloudhsm vendor
// profile on (a token whose PIN has the CloudHSM `user:password` form, unique labels, private public keys).
// States moto cannot make are unit tests of the mapping (test/unit/backends/aws-cloudhsm/).

import assert from 'node:assert/strict';
import { createPublicKey, randomUUID, verify as verifySignature } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { CloudHSMV2 } from '@aws-sdk/client-cloudhsm-v2';
import type { AwsCloudHsmBackend as AwsCloudHsmSpec } from '../../../src/api/v1alpha1/keybackend.ts';
import type { KeyBackend } from '../../../src/backends/backend.ts';
import { AWS_CREDENTIALS } from '../../../src/backends/aws/client-config.ts';
import { awsCloudHsmFactory } from '../../../src/backends/aws-cloudhsm/factory.ts';
import type { KeyIdentity } from '../../../src/backends/identity.ts';
import {
  MOTO_ACCESS_KEY_ID,
  MOTO_CREDENTIALS_FILE,
  MOTO_SECRET_ACCESS_KEY,
  type Moto,
  startMoto,
} from '../../support/moto.ts';
import { SOFTHSM_MODULE, SoftHsm, type SoftHsmToken } from '../../support/softhsm.ts';
import { describeConformance } from './conformance.ts';

const REGION = 'eu-west-1';
const CRYPTO_USER_PIN = `keyward_cu:${randomUUID()}`;

let moto: Moto;
let hsm: SoftHsm;
let token: SoftHsmToken;
let clusterId: string;
let backend: KeyBackend;

function spec(cluster = clusterId): AwsCloudHsmSpec {
  return {
    region: REGION,
    clusterId: cluster,
    endpoint: moto.endpoint,
    credentialsSecretRef: { namespace: 'keyward-system', name: 'aws', key: 'credentials' },
    pkcs11: {
      modulePath: SOFTHSM_MODULE,
      token: { label: token.label },
      pinSecretRef: { namespace: 'keyward-system', name: 'cloudhsm-cu', key: 'pin' },
      maxSessions: 2,
    },
  };
}

function open(pin = CRYPTO_USER_PIN, cluster = clusterId): Promise<KeyBackend> {
  return awsCloudHsmFactory.open(
    spec(cluster),
    new Map([
      [AWS_CREDENTIALS, Buffer.from(MOTO_CREDENTIALS_FILE)],
      ['pin', Buffer.from(pin)],
    ]),
  );
}

function identity(version = 1): KeyIdentity {
  return { uid: randomUUID(), namespace: 'payments', name: 'signing', version };
}

before(async () => {
  moto = await startMoto();
  hsm = SoftHsm.create();
  token = hsm.initToken('hsm1', CRYPTO_USER_PIN);
  const cloudhsm = new CloudHSMV2({
    region: REGION,
    endpoint: moto.endpoint,
    credentials: { accessKeyId: MOTO_ACCESS_KEY_ID, secretAccessKey: MOTO_SECRET_ACCESS_KEY },
  });
  const created = await cloudhsm.createCluster({ HsmType: 'hsm2m.medium', SubnetIds: ['subnet-0a1b2c3d'] });
  cloudhsm.destroy();
  clusterId = created.Cluster?.ClusterId ?? '';
  backend = await open();
});

after(async () => {
  await backend.close();
  await moto.stop();
  hsm.cleanup();
});

describeConformance({
  name: 'AWS CloudHSM (moto + SoftHSM2 as the CloudHSM library)',
  open: () => open(),
  algorithms: ['EC_P256', 'EC_P384', 'EC_P521', 'ED25519', 'RSA_2048', 'AES_256', 'HMAC_SHA256'],
  lacks: {
    recoveryWrap:
      "not offered through CloudHSM: its wrapping rules have not been tried against a real cluster's library",
  },
});

describe('cluster', () => {
  test('an ACTIVE cluster: state, HSM count and the latest backup in health, beside the token', async () => {
    const health = await backend.health();
    assert.equal(health.info.state, 'ACTIVE');
    assert.equal(health.info.hsmCount, 0);
    assert.deepEqual(health.info.availabilityZones, []);
    assert.ok(
      health.info.latestBackupTime !== undefined && Date.now() - health.info.latestBackupTime < 600_000,
    );
    assert.equal(health.info.tokenLabel, token.label);
    assert.match(health.info.model, /\(hsm2m\.medium\)$/);
    // moto's clusters have no HSMs (it has no CreateHsm); a real one with none has the same warning.
    assert.deepEqual(health.warnings, [
      'the cluster has no active HSM: keys cannot be created or used until an HSM is added',
    ]);
    assert.equal(backend.target.id, `aws-cloudhsm:${REGION}/${clusterId}`);
  });

  test('a cluster that does not exist fails open() with TokenNotFound, before the library is touched', async () => {
    await assert.rejects(open(CRYPTO_USER_PIN, 'cluster-doesnotexist1'), {
      code: 'TokenNotFound',
      message: /cluster-doesnotexist1 does not exist/,
    });
  });

  test('a crypto user login without the user:password form is refused before any login attempt', async () => {
    await assert.rejects(open('just-a-password'), {
      code: 'Misconfigured',
      message: /user name>:<password>/,
    });
  });
});

describe('keys through the PKCS#11 library', () => {
  test('an EC P-256 key is created once, on the cluster, and its signatures verify with its public key', async () => {
    const id = identity();
    const created = await backend.create(id, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    assert.equal(created.outcome, 'created');
    assert.equal(created.version.target, backend.target.id);
    const again = await backend.create(
      { ...id, target: backend.target.id },
      { algorithm: 'EC_P256', usages: ['sign', 'verify'] },
    );
    assert.equal(again.outcome, 'adopted');
    assert.equal(again.version.versionId, created.version.versionId);

    const message = Buffer.from('cloudhsm');
    const signature = await backend.sign(id, { message });
    const publicKey = createPublicKey({
      key: (await backend.publicKey(id)).spki,
      format: 'der',
      type: 'spki',
    });
    assert.ok(verifySignature('sha256', message, publicKey, signature));
    assert.equal(await backend.verify(id, { message }, signature), true);
    assert.deepEqual(await backend.observe({ ...id, target: backend.target.id }), again.version);

    // The cloudhsm profile, as pkcs11-tool sees the token in its own process.
    const objects = hsm.listObjects(token).filter((o) => o.id === created.version.versionId.toLowerCase());
    assert.ok(objects.some((o) => o.kind === 'Private Key'));
    assert.ok(objects.some((o) => o.kind === 'Public Key'));
    assert.equal(new Set(objects.map((o) => o.label)).size, objects.length, 'labels are unique');

    assert.deepEqual(await backend.destroy(id, { delaySeconds: 0 }), { outcome: 'destroyed' });
    assert.equal(await backend.observe(id), undefined);
  });
});
