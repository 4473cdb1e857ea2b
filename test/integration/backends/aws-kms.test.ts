// The AWS KMS backend against moto in server mode (test/support/moto.ts), with an HTTP fault proxy in front of it
// for throttling, 5xx, access denied and lost responses.

import assert from 'node:assert/strict';
import { createPublicKey, randomUUID, verify as verifySignature, createHash, constants } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { KMS } from '@aws-sdk/client-kms';
import type { KeyBackend } from '../../../src/backends/backend.ts';
import { AWS_CREDENTIALS } from '../../../src/backends/aws/client-config.ts';
import { awsKmsFactory } from '../../../src/backends/aws-kms/factory.ts';
import { identityTags } from '../../../src/backends/aws-kms/naming.ts';
import type { KeyIdentity } from '../../../src/backends/identity.ts';
import { type HttpFaultProxy, startHttpFaultProxy } from '../../fixtures/http-fault-proxy.ts';
import { describeConformance } from './conformance.ts';
import {
  MOTO_ACCESS_KEY_ID,
  MOTO_CREDENTIALS_FILE,
  MOTO_SECRET_ACCESS_KEY,
  type Moto,
  startMoto,
} from '../../support/moto.ts';

const REGION = 'eu-west-1';
const DAY = 86_400;

let moto: Moto;
let proxy: HttpFaultProxy;
let backend: KeyBackend;
let kms: KMS;

function open(endpoint = proxy.endpoint): Promise<KeyBackend> {
  const credentialsSecretRef = { namespace: 'keyward-system', name: 'aws', key: 'credentials' };
  return awsKmsFactory.open(
    { region: REGION, endpoint, credentialsSecretRef },
    new Map([[AWS_CREDENTIALS, Buffer.from(MOTO_CREDENTIALS_FILE)]]),
  );
}

function identity(version = 1, uid = randomUUID()): KeyIdentity {
  return { uid, namespace: 'payments', name: `signing.${uid.slice(0, 8)}`, version };
}

/** Keys in moto whose tags carry this version. */
async function keysOf(id: KeyIdentity): Promise<string[]> {
  const found: string[] = [];
  for (const key of (await kms.listKeys({})).Keys ?? []) {
    const tags = (await kms.listResourceTags({ KeyId: key.KeyId })).Tags ?? [];
    const tag = (name: string) => tags.find((t) => t.TagKey === name)?.TagValue;
    if (tag('keyward.io/uid') === id.uid && tag('keyward.io/version') === String(id.version))
      found.push(key.KeyId ?? '');
  }
  return found;
}

before(async () => {
  moto = await startMoto();
  proxy = await startHttpFaultProxy(moto.endpoint);
  kms = new KMS({
    region: REGION,
    endpoint: moto.endpoint,
    credentials: { accessKeyId: MOTO_ACCESS_KEY_ID, secretAccessKey: MOTO_SECRET_ACCESS_KEY },
  });
  backend = await open();
});

after(async () => {
  await backend.close();
  kms.destroy();
  await proxy.close();
  await moto.stop();
});

describeConformance({
  name: 'AWS KMS (moto)',
  open: () => open(),
  algorithms: ['EC_P256', 'EC_P384', 'EC_P521', 'RSA_2048', 'RSA_3072', 'RSA_4096', 'AES_256', 'HMAC_SHA256'],
  unoffered: 'ED25519',
  lacks: {
    usageRestriction:
      'a KMS key signs as long as it is enabled; archival moves only the alias and the published key',
    immediateDestroy: 'ScheduleKeyDeletion waits 7 to 30 days',
    recoveryWrap:
      'KMS never lets key material out, wrapped or not (only imported material can be re-imported)',
  },
});

describe('keys', () => {
  test('an EC P-256 key is created once, tagged and aliased, and adopted when asked again', async () => {
    const id = identity();
    const created = await backend.create(id, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    assert.equal(created.outcome, 'created');
    assert.equal(created.version.state, 'Enabled');
    assert.deepEqual(created.version.usages, ['sign', 'verify']);
    assert.match(created.version.keyRef, /^arn:aws:kms:eu-west-1:\d+:key\//);
    assert.equal(created.version.target, 'aws-kms:eu-west-1');

    const again = await backend.create(id, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    assert.equal(again.outcome, 'adopted');
    assert.equal(again.version.versionId, created.version.versionId);
    assert.deepEqual(await keysOf(id), [created.version.versionId]);

    const aliases = (await kms.listAliases({ KeyId: created.version.versionId })).Aliases ?? [];
    assert.deepEqual(aliases.map((a) => a.AliasName).sort(), [
      `alias/keyward/payments/${id.name.replace('.', '_')}`,
      `alias/keyward/uid/${id.uid}/v1`,
    ]);
    assert.deepEqual(await backend.observe(id), created.version);
  });

  for (const algorithm of ['EC_P256', 'EC_P384', 'EC_P521', 'RSA_2048'] as const) {
    test(`${algorithm}: a signature verifies with the published public key, as a message and as a digest`, async () => {
      const id = identity();
      await backend.create(id, { algorithm, usages: ['sign', 'verify'] });
      const publicKey = createPublicKey({
        key: (await backend.publicKey(id)).spki,
        format: 'der',
        type: 'spki',
      });
      const message = Buffer.from(`payload for ${algorithm}`);
      const hash = { EC_P256: 'sha256', EC_P384: 'sha384', EC_P521: 'sha512', RSA_2048: 'sha256' } as const;
      const digest = createHash(hash[algorithm]).update(message).digest();

      const der = await backend.sign(id, { message });
      assert.ok(verifySignature(hash[algorithm], message, publicKey, der));
      const fromDigest = await backend.sign(id, { digest, hash: hash[algorithm] });
      assert.ok(verifySignature(hash[algorithm], message, publicKey, fromDigest));
      assert.equal(await backend.verify(id, { message }, der), true);
      assert.equal(await backend.verify(id, { message: Buffer.from('another payload') }, der), false);

      if (algorithm === 'RSA_2048') {
        const pss = await backend.sign(id, { message }, { rsaPadding: 'pss' });
        const pssKey = { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
        assert.ok(verifySignature('sha256', message, pssKey, pss));
        assert.equal(await backend.verify(id, { message }, pss, { rsaPadding: 'pss' }), true);
      } else {
        const raw = await backend.sign(id, { message }, { ecdsaFormat: 'raw' });
        assert.equal(raw.length, { EC_P256: 64, EC_P384: 96, EC_P521: 132 }[algorithm]);
        assert.ok(
          verifySignature(hash[algorithm], message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw),
        );
        assert.equal(await backend.verify(id, { message }, raw, { ecdsaFormat: 'raw' }), true);
      }
    });
  }

  test('HMAC_SHA256 MACs messages in KMS and verifies them; AES_256 keys are made and proven', async () => {
    const hmac = identity();
    await backend.create(hmac, { algorithm: 'HMAC_SHA256', usages: ['sign', 'verify'] });
    const mac = await backend.sign(hmac, { message: Buffer.from('m') });
    assert.equal(mac.length, 32);
    assert.equal(await backend.verify(hmac, { message: Buffer.from('m') }, mac), true);
    assert.equal(await backend.verify(hmac, { message: Buffer.from('n') }, mac), false);
    await assert.rejects(backend.publicKey(hmac), { code: 'Unsupported' });

    const aes = identity();
    const created = await backend.create(aes, { algorithm: 'AES_256', usages: ['encrypt', 'decrypt'] });
    assert.deepEqual(created.version.usages, ['encrypt', 'decrypt']);
  });

  test('an RSA key cannot both sign and encrypt in KMS', async () => {
    await assert.rejects(backend.create(identity(), { algorithm: 'RSA_2048', usages: ['sign', 'encrypt'] }), {
      code: 'Unsupported',
      message: /either signs or encrypts/,
    });
  });

  test('native rotation of an AES key is switched on with its period; outside 90..2560 days it is refused', async () => {
    const id = identity();
    const created = await backend.create(id, {
      algorithm: 'AES_256',
      usages: ['encrypt', 'decrypt'],
      nativeRotationPeriodSeconds: 365 * DAY,
    });
    const status = await kms.getKeyRotationStatus({ KeyId: created.version.versionId });
    assert.equal(status.KeyRotationEnabled, true);
    await assert.rejects(
      backend.create(identity(), {
        algorithm: 'AES_256',
        usages: ['encrypt'],
        nativeRotationPeriodSeconds: 30 * DAY,
      }),
      { code: 'Unsupported', message: /90 to 2560 days/ },
    );
  });

  test('versions are found by tag, newest first, and the ManagedKey alias follows the newest', async () => {
    const v1 = identity(1);
    const v2 = { ...v1, version: 2 };
    const first = await backend.create(v1, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    const second = await backend.create(v2, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    // Adopting v1 again (a retry) must not take the alias back from v2.
    await backend.create(v1, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    const fresh = await open();
    try {
      const versions = await fresh.versions(v1);
      assert.deepEqual(
        versions.map((v) => v.versionId),
        [second.version.versionId, first.version.versionId],
      );
    } finally {
      await fresh.close();
    }
    const current = await kms.describeKey({ KeyId: `alias/keyward/payments/${v1.name.replace('.', '_')}` });
    assert.equal(current.KeyMetadata?.KeyId, second.version.versionId);
  });

  test('setUsages disables and enables; usages a KMS key was not made for are refused', async () => {
    const id = identity();
    await backend.create(id, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    await backend.setUsages(id, []);
    assert.equal((await backend.observe(id))?.state, 'Disabled');
    await assert.rejects(backend.sign(id, { message: Buffer.from('x') }), { code: 'PermissionDenied' });
    await backend.setUsages(id, ['sign', 'verify']);
    assert.equal((await backend.observe(id))?.state, 'Enabled');
    await backend.sign(id, { message: Buffer.from('x') });

    const aes = identity();
    await backend.create(aes, { algorithm: 'AES_256', usages: ['encrypt', 'decrypt'] });
    await assert.rejects(backend.setUsages(aes, ['wrap']), {
      code: 'Unsupported',
      message: /fixed when it is made/,
    });
  });
});

describe('lookups', () => {
  test('a version is found by the key id status recorded, or by its alias, without listing the account', async () => {
    const id = identity();
    const created = await backend.create(id, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    const fresh = await open();
    try {
      const listed = proxy.seen.get('ListKeys') ?? 0;
      assert.equal((await fresh.observe(id))?.versionId, created.version.versionId, 'by alias');
      await kms.deleteAlias({ AliasName: `alias/keyward/uid/${id.uid}/v1` });
      const again = await open();
      try {
        const observed = await again.observe({ ...id, versionId: created.version.versionId });
        assert.equal(observed?.versionId, created.version.versionId, 'by recorded key id');
      } finally {
        await again.close();
      }
      // Each open() lists one key to check the credentials; nothing more was listed.
      assert.equal((proxy.seen.get('ListKeys') ?? 0) - listed, 1);
    } finally {
      await fresh.close();
    }
  });
});

describe('interrupted creation', () => {
  test('a key left by a CreateKey whose process died before the aliases is found by its tags and adopted', async () => {
    const id = identity();
    const orphan = await kms.createKey({
      KeySpec: 'ECC_NIST_P256',
      KeyUsage: 'SIGN_VERIFY',
      Tags: identityTags(id, ['sign', 'verify']),
    });
    const fresh = await open();
    try {
      assert.equal((await fresh.observe(id))?.versionId, orphan.KeyMetadata?.KeyId);
      const adopted = await fresh.create(id, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
      assert.equal(adopted.outcome, 'adopted');
      assert.equal(adopted.version.versionId, orphan.KeyMetadata?.KeyId);
      assert.deepEqual(await keysOf(id), [orphan.KeyMetadata?.KeyId]);
      const aliases = (await kms.listAliases({ KeyId: adopted.version.versionId })).Aliases ?? [];
      assert.ok(aliases.some((a) => a.AliasName === `alias/keyward/uid/${id.uid}/v1`));
    } finally {
      await fresh.close();
    }
  });

  test('a CreateKey whose response was lost is not sent twice: the retry finds the key', async () => {
    const id = identity();
    proxy.fail('CreateKey', { lose: true });
    await assert.rejects(backend.create(id, { algorithm: 'EC_P256', usages: ['sign', 'verify'] }), {
      code: 'Retryable',
    });
    assert.equal((await keysOf(id)).length, 1, 'the lost attempt made a key');
    const before = proxy.seen.get('CreateKey') ?? 0;
    const retried = await backend.create(id, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    assert.equal(retried.outcome, 'adopted');
    assert.equal(proxy.seen.get('CreateKey') ?? 0, before, 'no second CreateKey');
    assert.deepEqual(await keysOf(id), [retried.version.versionId]);
  });
});

describe('deletion', () => {
  test('ScheduleKeyDeletion takes the delay in days, raised to 7; past 30 nothing is scheduled', async () => {
    assert.equal(backend.capabilities().minDestroyDelaySeconds, 7 * DAY);
    assert.equal(backend.capabilities().maxDestroyDelaySeconds, 30 * DAY);
    const short = identity();
    await backend.create(short, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    const now = Date.now();
    const raised = await backend.destroy(short, { delaySeconds: 0 });
    assert.ok(raised.outcome === 'scheduled', raised.outcome);
    assert.ok(Math.abs(raised.destroyTime - (now + 7 * DAY * 1000)) < 60_000);

    const id = identity();
    await backend.create(id, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    await assert.rejects(backend.destroy(id, { delaySeconds: 31 * DAY }), {
      code: 'Unsupported',
      message: /at most 30 days/,
    });
    assert.equal((await backend.observe(id))?.state, 'Enabled');

    const asked = Date.now();
    const result = await backend.destroy(id, { delaySeconds: 10 * DAY });
    assert.ok(result.outcome === 'scheduled', result.outcome);
    assert.ok(Math.abs(result.destroyTime - (asked + 10 * DAY * 1000)) < 60_000);
    const observed = await backend.observe(id);
    assert.equal(observed?.state, 'DestroyScheduled');
    assert.equal(observed.destroyTime, result.destroyTime);
    assert.deepEqual(
      await backend.destroy(id, { delaySeconds: 20 * DAY }),
      result,
      'a second destroy keeps the date',
    );

    await backend.setUsages(id, ['sign', 'verify']);
    assert.equal((await backend.observe(id))?.state, 'Enabled', 'restored');
  });

  test('destroying a version that has no key is absent', async () => {
    assert.deepEqual(await backend.destroy(identity(), { delaySeconds: 7 * DAY }), { outcome: 'absent' });
  });
});

describe('failures', () => {
  test('throttling and 5xx are retried with backoff inside one call', async () => {
    const id = identity();
    await backend.create(id, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    const before = proxy.seen.get('Sign') ?? 0;
    proxy.fail('Sign', { status: 400, type: 'ThrottlingException', message: 'Rate exceeded' }, 2);
    proxy.fail('Sign', { status: 503, type: 'ServiceUnavailable', message: 'busy' }, 1);
    await backend.sign(id, { message: Buffer.from('x') });
    assert.equal((proxy.seen.get('Sign') ?? 0) - before, 4);
  });

  test('throttling that does not stop ends in a RetryableError after the attempts', async () => {
    const id = identity();
    await backend.create(id, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    const before = proxy.seen.get('Sign') ?? 0;
    proxy.fail('Sign', { status: 400, type: 'ThrottlingException', message: 'Rate exceeded' }, 100);
    try {
      await assert.rejects(backend.sign(id, { message: Buffer.from('x') }), { code: 'Retryable' });
      assert.equal((proxy.seen.get('Sign') ?? 0) - before, 5);
    } finally {
      proxy.heal();
    }
  });

  test('access denied is PermissionDenied, and no credential reaches the message', async () => {
    const id = identity();
    await backend.create(id, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    proxy.fail('*', {
      status: 400,
      type: 'AccessDeniedException',
      message: `User: arn:aws:iam::123456789012:user/x (${MOTO_ACCESS_KEY_ID}) is not authorized to perform: kms:DescribeKey`,
    });
    const error = await backend.observe(id).then(
      () => assert.fail('observe succeeded'),
      (e: unknown) => e as Error & { code: string },
    );
    assert.equal(error.code, 'PermissionDenied');
    assert.match(error.message, /AccessDeniedException/);
    for (const secret of [MOTO_ACCESS_KEY_ID, MOTO_SECRET_ACCESS_KEY, '123456789012']) {
      assert.ok(!error.message.includes(secret), `message holds ${secret}`);
      assert.ok(!JSON.stringify(error).includes(secret));
    }
  });

  test('a key policy that denies DescribeKey (moto enforces Deny statements) is PermissionDenied', async () => {
    const id = identity();
    const denied = await kms.createKey({
      KeySpec: 'ECC_NIST_P256',
      KeyUsage: 'SIGN_VERIFY',
      Tags: identityTags(id, ['sign', 'verify']),
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Deny', Principal: '*', Action: 'kms:DescribeKey', Resource: '*' }],
      }),
    });
    await kms.createAlias({
      AliasName: `alias/keyward/uid/${id.uid}/v1`,
      TargetKeyId: denied.KeyMetadata?.KeyId,
    });
    await assert.rejects(backend.observe(id), { code: 'PermissionDenied' });
  });

  test('an aborted call ends with a RetryableError', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(backend.observe(identity(), { signal: controller.signal }), { code: 'Retryable' });
  });

  test('an unreachable endpoint fails open() with a RetryableError', async () => {
    await assert.rejects(open('http://127.0.0.1:9'), { code: 'Retryable' });
  });
});
