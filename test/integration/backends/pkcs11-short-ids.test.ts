// Tokens with short object ids (YubiHSM 2: 16 bits) on a real SoftHSM2 with the yubihsm2 vendor profile: an id taken
// by another key is detected, the version takes the next id its digest gives, and status records which.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pkcs11js from 'pkcs11js';
import { type ModuleLease, openModule } from '../../../src/backends/pkcs11/module.ts';
import { objectIdentity } from '../../../src/backends/pkcs11/object-identity.ts';
import { Pkcs11Backend } from '../../../src/backends/pkcs11/pkcs11-backend.ts';
import { VENDOR_PROFILES } from '../../../src/backends/pkcs11/vendors.ts';
import { SOFTHSM_MODULE, SoftHsm, type SoftHsmToken } from '../../support/softhsm.ts';

let hsm: SoftHsm;
let token: SoftHsmToken;
let backend: Pkcs11Backend;
let raw: ModuleLease;
let session: pkcs11js.Handle;

before(async () => {
  hsm = SoftHsm.create();
  // The YubiHSM PIN form: the authentication key id in 4 hex digits, then its password.
  token = hsm.initToken('short-ids', `0001${randomUUID()}`);
  backend = await Pkcs11Backend.connect({
    modulePath: SOFTHSM_MODULE,
    vendor: 'yubihsm2',
    token: { label: token.label },
    pin: Buffer.from(token.pin),
  });
  raw = openModule(SOFTHSM_MODULE);
  const slot = raw.pkcs11
    .C_GetSlotList(true)
    .find((s) => raw.pkcs11.C_GetTokenInfo(s).label.trim() === token.label);
  assert.ok(slot);
  session = raw.pkcs11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
});

after(async () => {
  raw.pkcs11.C_CloseSession(session);
  await backend.close();
  raw.release();
  hsm.cleanup();
});

describe('short object ids', () => {
  it('takes the next id when its first is another key’s, records it, and leaves the other key alone', async () => {
    const identity = { uid: randomUUID(), namespace: 'ns', name: 'collides', version: 1 };
    const { ids } = objectIdentity(identity, VENDOR_PROFILES.yubihsm2);
    const [taken, next] = ids;
    assert.ok(taken && next);
    raw.pkcs11.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
      { type: pkcs11js.CKA_ID, value: taken },
      { type: pkcs11js.CKA_LABEL, value: 'someone-else' },
    ]);
    await backend.refresh();

    const { outcome, version } = await backend.create(identity, {
      algorithm: 'EC_P256',
      usages: ['sign', 'verify'],
    });
    assert.equal(outcome, 'created');
    assert.equal(version.versionId, next.toString('hex'), 'the version took the second id its digest gives');
    // Found again by the id status records, and (in flight, before status has it) among its candidates.
    assert.equal(
      (await backend.observe({ ...identity, versionId: version.versionId }))?.versionId,
      version.versionId,
    );
    assert.equal((await backend.observe(identity))?.versionId, version.versionId);
    assert.equal(
      (await backend.create(identity, { algorithm: 'EC_P256', usages: ['sign', 'verify'] })).outcome,
      'adopted',
    );

    assert.deepEqual(
      await backend.destroy({ ...identity, versionId: version.versionId }, { delaySeconds: 0 }),
      {
        outcome: 'destroyed',
      },
    );
    raw.pkcs11.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_ID, value: taken }]);
    const survivors = raw.pkcs11.C_FindObjects(session, 10);
    raw.pkcs11.C_FindObjectsFinal(session);
    assert.equal(survivors.length, 1, 'the other key is untouched');
  });
});
