// How key lookups scale with the number of keys on a real SoftHSM2 token: one enumeration of the whole token
// (what the backend's index does) against one C_FindObjects by CKA_ID per key. The times are printed as test
// diagnostics, not asserted (timing goals belong to a benchmark); the assertions check the lookups agree.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import pkcs11js from 'pkcs11js';
import type { KeyIdentity } from '../../../src/backends/identity.ts';
import { findObjectsById } from '../../../src/backends/pkcs11/key-index.ts';
import { type ModuleLease, openModule } from '../../../src/backends/pkcs11/module.ts';
import { objectIdentity } from '../../../src/backends/pkcs11/object-identity.ts';
import { Pkcs11Backend } from '../../../src/backends/pkcs11/pkcs11-backend.ts';
import { findToken } from '../../../src/backends/pkcs11/token.ts';
import { VENDOR_PROFILES } from '../../../src/backends/pkcs11/vendors.ts';
import { SOFTHSM_MODULE, SoftHsm } from '../../support/softhsm.ts';

const KEYS = 500;

let hsm: SoftHsm;
let backend: Pkcs11Backend;
let raw: ModuleLease;
let rawSession: pkcs11js.Handle;
const keys: KeyIdentity[] = Array.from({ length: KEYS }, (_, i) => ({
  uid: randomUUID(),
  namespace: 'scale',
  name: `key-${i}`,
  version: 1,
}));

function milliseconds(since: number): string {
  return (performance.now() - since).toFixed(1);
}

before(async () => {
  hsm = SoftHsm.create();
  const token = hsm.initToken('keyward-scale');
  backend = await Pkcs11Backend.connect({
    modulePath: SOFTHSM_MODULE,
    vendor: 'softhsm2',
    token: { label: token.label },
    pin: Buffer.from(token.pin),
    maxSessions: 4,
  });
  raw = openModule(SOFTHSM_MODULE);
  rawSession = raw.pkcs11.C_OpenSession(
    findToken(raw.pkcs11, raw.path, { label: token.label }).slot,
    pkcs11js.CKF_SERIAL_SESSION,
  );
});

after(async () => {
  raw.pkcs11.C_CloseSession(rawSession);
  await backend.close();
  raw.release();
  hsm.cleanup();
});

it(`one enumeration against per-key lookups with ${KEYS} EC_P256 keys`, async (t) => {
  let started = performance.now();
  for (let i = 0; i < KEYS; i += 4) {
    await Promise.all(
      keys
        .slice(i, i + 4)
        .map((key) => backend.create(key, { algorithm: 'EC_P256', usages: ['sign', 'verify'] })),
    );
  }
  t.diagnostic(`generate ${KEYS} key pairs: ${milliseconds(started)} ms`);

  started = performance.now();
  await backend.refresh();
  t.diagnostic(`enumerate the token once (${2 * KEYS} objects, CKA_ID of each): ${milliseconds(started)} ms`);

  started = performance.now();
  for (const key of keys) {
    const found = findObjectsById(
      raw.pkcs11,
      rawSession,
      objectIdentity(key, VENDOR_PROFILES.softhsm2).ids[0]!,
    );
    assert.equal(found.length, 2);
  }
  const perKey = performance.now() - started;
  t.diagnostic(
    `C_FindObjects by CKA_ID for each of ${KEYS} keys: ${perKey.toFixed(1)} ms (${(perKey / KEYS).toFixed(2)} ms per key)`,
  );

  started = performance.now();
  for (const key of keys) assert.equal((await backend.observe(key))?.algorithm, 'EC_P256');
  const observed = performance.now() - started;
  t.diagnostic(
    `observe() each of ${KEYS} keys through the index: ${observed.toFixed(1)} ms (${(observed / KEYS).toFixed(2)} ms per key)`,
  );
});
