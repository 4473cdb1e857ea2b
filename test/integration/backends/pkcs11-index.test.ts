// The backend trusts its index instead of searching the token before each create (one writer per token): what
// keeps that sound within one process. Every backend of the process on a token shares one index and one set of
// locks, so two KeyBackends naming the same token never both find a version absent, and what one destroys the other
// does not adopt. Checked from outside with pkcs11-tool in its own process.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import type { KeyIdentity } from '../../../src/backends/identity.ts';
import pkcs11js from 'pkcs11js';
import { generationRequest } from '../../../src/backends/pkcs11/generation.ts';
import { openModule } from '../../../src/backends/pkcs11/module.ts';
import { objectIdentity } from '../../../src/backends/pkcs11/object-identity.ts';
import { Pkcs11Backend } from '../../../src/backends/pkcs11/pkcs11-backend.ts';
import { findToken } from '../../../src/backends/pkcs11/token.ts';
import { VENDOR_PROFILES } from '../../../src/backends/pkcs11/vendors.ts';
import { SOFTHSM_MODULE, SoftHsm, type SoftHsmToken } from '../../support/softhsm.ts';

let hsm: SoftHsm;
let token: SoftHsmToken;
let first: Pkcs11Backend;
let second: Pkcs11Backend;

const connect = (): Promise<Pkcs11Backend> =>
  Pkcs11Backend.connect({
    modulePath: SOFTHSM_MODULE,
    vendor: 'softhsm2',
    token: { label: token.label },
    pin: Buffer.from(token.pin),
  });

function identity(name: string): KeyIdentity {
  return { uid: randomUUID(), namespace: 'index', name, version: 1 };
}

function listed(key: KeyIdentity): ReturnType<SoftHsm['listObjects']> {
  const id = objectIdentity(key, VENDOR_PROFILES.softhsm2).ids[0]?.toString('hex');
  return hsm.listObjects(token).filter((object) => object.id === id);
}

before(async () => {
  hsm = SoftHsm.create();
  token = hsm.initToken('keyward-index');
  first = await connect();
  second = await connect();
});

after(async () => {
  await first.close();
  await second.close();
  hsm.cleanup();
});

it('two backends on one token racing creates of one version make one key pair', async () => {
  const key = identity('raced');
  const spec = { algorithm: 'EC_P256', usages: ['sign', 'verify'] } as const;
  const results = await Promise.all([
    first.create(key, spec),
    second.create(key, spec),
    first.create(key, spec),
    second.create(key, spec),
  ]);
  assert.deepEqual(results.map((r) => r.outcome).sort(), ['adopted', 'adopted', 'adopted', 'created']);
  assert.equal(new Set(results.map((r) => r.version.versionId)).size, 1);
  assert.deepEqual(
    listed(key)
      .map((o) => o.kind)
      .sort(),
    ['Private Key', 'Public Key'],
  );
});

it('a version one backend destroyed is absent for the other, which generates it anew', async () => {
  const key = identity('destroyed');
  const spec = { algorithm: 'EC_P256', usages: ['sign', 'verify'] } as const;
  const made = await first.create(key, spec);
  assert.equal((await second.observe(key))?.versionId, made.version.versionId);
  assert.deepEqual(await first.destroy(key, { delaySeconds: 0 }), { outcome: 'destroyed' });
  assert.equal(await second.observe(key), undefined);
  const again = await second.create(key, spec);
  assert.equal(again.outcome, 'created');
  assert.equal(listed(key).length, 2);
});

it('lists versions from the index by owner, and only that key', async () => {
  const key = identity('versioned');
  const spec = { algorithm: 'EC_P256', usages: ['sign', 'verify'] } as const;
  await first.create(key, spec);
  await first.create({ ...key, version: 3 }, spec);
  await first.create({ ...key, uid: randomUUID() }, spec); // same namespace and name, another uid: not this key
  assert.deepEqual(
    (await second.versions(key)).map((v) => v.version),
    [3, 1],
  );
});

it('a key made behind the backends is unseen until it is recorded (searched by its id) or refreshed', async () => {
  const key = identity('behind');
  const oid = objectIdentity(key, VENDOR_PROFILES.softhsm2);
  const id = oid.ids[0] ?? Buffer.alloc(0);
  const raw = openModule(SOFTHSM_MODULE);
  const session = raw.pkcs11.C_OpenSession(
    findToken(raw.pkcs11, raw.path, { label: token.label }).slot,
    pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION,
  );
  try {
    const request = generationRequest(
      { algorithm: 'EC_P256', usages: ['sign', 'verify'] },
      oid,
      id,
      VENDOR_PROFILES.softhsm2,
    );
    assert.equal(request.kind, 'pair');
    raw.pkcs11.C_GenerateKeyPair(session, request.mechanism, request.publicTemplate, request.privateTemplate);
  } finally {
    raw.pkcs11.C_CloseSession(session);
    raw.release();
  }
  assert.equal(await first.observe(key), undefined, 'an unrecorded version is looked up in the index only');
  const recorded = await first.observe({ ...key, versionId: id.toString('hex') });
  assert.equal(recorded?.versionId, id.toString('hex'), 'a recorded version the index lacks is searched for');
  assert.equal((await second.observe(key))?.versionId, id.toString('hex'), 'and the shared index now has it');
});
