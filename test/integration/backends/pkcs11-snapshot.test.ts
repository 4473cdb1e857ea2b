// The enumeration's snapshot (src/backends/pkcs11/enumeration-snapshot.ts): the first observe() and publicKey() of a
// version after an enumeration are answered from what it read, with no token call, and give what a live read gives;
// later calls and calls after a write of this process read the token. Attribute reads are counted on the pkcs11js
// object the backend shares with this file's raw lease.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pkcs11js from 'pkcs11js';
import { isAsymmetric } from '../../../src/backends/algorithms.ts';
import type { KeySpec } from '../../../src/backends/backend.ts';
import type { KeyIdentity } from '../../../src/backends/identity.ts';
import { KeyIndex } from '../../../src/backends/pkcs11/key-index.ts';
import { groupKeyObjects, keyState, readKeyFacts } from '../../../src/backends/pkcs11/key-objects.ts';
import { type ModuleLease, openModule } from '../../../src/backends/pkcs11/module.ts';
import { objectIdentity } from '../../../src/backends/pkcs11/object-identity.ts';
import { Pkcs11Backend } from '../../../src/backends/pkcs11/pkcs11-backend.ts';
import { findToken } from '../../../src/backends/pkcs11/token.ts';
import { VENDOR_PROFILES } from '../../../src/backends/pkcs11/vendors.ts';
import { type CallCounter, countCalls } from '../../support/pkcs11-calls.ts';
import { SOFTHSM_MODULE, SOFTHSM_USAGES as USAGES, SoftHsm } from '../../support/softhsm.ts';

let hsm: SoftHsm;
let backend: Pkcs11Backend;
let raw: ModuleLease;
let rawSession: pkcs11js.Handle;
let reads: CallCounter;

interface Case {
  readonly name: string;
  /** As status records it (versionId set). */
  readonly key: KeyIdentity;
  /** A key pair with both halves: what verifyVersions asks observe() and publicKey() of. */
  readonly verified: boolean;
}
const cases: Case[] = [];

function oidOf(key: KeyIdentity): { id: Buffer; label: string; publicLabel: string } {
  const { ids, label, publicLabel } = objectIdentity(key, VENDOR_PROFILES.softhsm2);
  return { id: ids[0] ?? Buffer.alloc(0), label, publicLabel };
}

function recorded(name: string): KeyIdentity {
  const key = { uid: randomUUID(), namespace: 'snapshot', name, version: 1 };
  return { ...key, versionId: oidOf(key).id.toString('hex') };
}

async function made(name: string, spec: KeySpec, verified = isAsymmetric(spec.algorithm)): Promise<Case> {
  const key = recorded(name);
  await backend.create(key, spec);
  return { name, key, verified };
}

/** Objects made with raw pkcs11js under the key's id, and the label given (ours unless said otherwise). */
function rawObjects(key: KeyIdentity, make: (naming: pkcs11js.Template) => void, label?: string): Case {
  const oid = oidOf(key);
  make([
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_ID, value: oid.id },
    { type: pkcs11js.CKA_LABEL, value: label ?? oid.label },
  ]);
  return { name: key.name, key, verified: false };
}

/** A call's result, or its error's class and message, so that failures compare too. */
async function outcome(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return await call();
  } catch (error) {
    return error instanceof Error ? `${error.constructor.name}: ${error.message}` : error;
  }
}

async function verification(key: KeyIdentity): Promise<unknown[]> {
  return [await outcome(() => backend.observe(key)), await outcome(() => backend.publicKey(key))];
}

before(async () => {
  hsm = SoftHsm.create();
  const token = hsm.initToken('keyward-snapshot');
  backend = await Pkcs11Backend.connect({
    modulePath: SOFTHSM_MODULE,
    vendor: 'softhsm2',
    token: { label: token.label },
    pin: Buffer.from(token.pin),
  });
  raw = openModule(SOFTHSM_MODULE);
  rawSession = raw.pkcs11.C_OpenSession(
    findToken(raw.pkcs11, raw.path, { label: token.label }).slot,
    pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION,
  );
  reads = countCalls(raw.pkcs11, 'C_GetAttributeValue');

  for (const algorithm of backend.capabilities().algorithms) {
    cases.push(await made(algorithm, { algorithm, usages: USAGES[algorithm] }));
  }
  const disabled = await made('disabled', { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
  await backend.setUsages(disabled.key, []);
  cases.push(disabled);
  cases.push(
    await made('recoverable', { algorithm: 'AES_256', usages: ['encrypt', 'decrypt'], recoverable: true }),
  );
  const halfGone = await made(
    'public-half-gone',
    { algorithm: 'EC_P256', usages: ['sign', 'verify'] },
    false,
  );
  raw.pkcs11.C_FindObjectsInit(rawSession, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
    { type: pkcs11js.CKA_ID, value: oidOf(halfGone.key).id },
  ]);
  for (const handle of raw.pkcs11.C_FindObjects(rawSession, 2))
    raw.pkcs11.C_DestroyObject(rawSession, handle);
  raw.pkcs11.C_FindObjectsFinal(rawSession);
  cases.push(halfGone);
  const rsa1024 = (naming: pkcs11js.Template): void => {
    raw.pkcs11.C_GenerateKeyPair(
      rawSession,
      { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN },
      [...naming, { type: pkcs11js.CKA_MODULUS_BITS, value: 1024 }],
      [...naming, { type: pkcs11js.CKA_PRIVATE, value: true }, { type: pkcs11js.CKA_SENSITIVE, value: true }],
    );
  };
  cases.push(rawObjects(recorded('foreign-label'), rsa1024, 'someone/else/v1'));
  cases.push(rawObjects(recorded('foreign-kind-rsa-1024'), rsa1024));
  cases.push(
    rawObjects(recorded('foreign-kind-secret-16'), (naming) => {
      raw.pkcs11.C_GenerateKey(rawSession, { mechanism: pkcs11js.CKM_GENERIC_SECRET_KEY_GEN }, [
        ...naming,
        { type: pkcs11js.CKA_VALUE_LEN, value: 16 },
        { type: pkcs11js.CKA_SENSITIVE, value: true },
      ]);
    }),
  );
});

after(async () => {
  reads.restore();
  raw.pkcs11.C_CloseSession(rawSession);
  await backend.close();
  raw.release();
  hsm.cleanup();
});

describe('the first verification after an enumeration', () => {
  it('gives what a live read gives, for every kind of key and object', async () => {
    await backend.refresh();
    const first = [];
    for (const { key } of cases) first.push(await verification(key));
    for (const [i, { name, key }] of cases.entries()) {
      assert.deepEqual(await verification(key), first[i], name);
    }
  });

  it('parses the objects as a live read does, the protection of a recoverable key included', async () => {
    const index = new KeyIndex();
    await index.rebuild(raw.pkcs11, rawSession);
    for (const { name, key } of cases) {
      const oid = oidOf(key);
      const objects = groupKeyObjects(
        index.lookup(oid.id).filter((o) => o.label === oid.label || o.label === oid.publicLabel),
        oid.label,
      );
      if (objects === undefined) continue; // the foreign label: not ours to read
      const snapshot =
        index.takeSnapshot(oid.id, objects, 'publicKey') ?? index.takeSnapshot(oid.id, objects, 'observe');
      const live = readKeyFacts(raw.pkcs11, rawSession, objects, true);
      assert.deepEqual(snapshot, live, name);
      assert.ok(snapshot);
      for (const recoverable of [false, true]) {
        assert.deepEqual(keyState(snapshot, recoverable), keyState(live, recoverable), name);
      }
    }
    index.dropSnapshot();
  });

  it('makes no attribute read for observe() and publicKey() of recorded key pairs; the next observe() reads the token', async () => {
    const verified = cases.filter((c) => c.verified);
    assert.ok(verified.length >= 7);
    await backend.refresh();
    const before = reads.count;
    for (const { key } of verified) {
      assert.ok(await backend.observe(key));
      await backend.publicKey(key);
    }
    assert.equal(reads.count - before, 0);

    // A change made after the first verification is seen by the next, live, read.
    const [{ key } = cases[0]!] = verified;
    const oid = oidOf(key);
    const index = new KeyIndex();
    await index.rebuild(raw.pkcs11, rawSession);
    const objects = groupKeyObjects(index.lookup(oid.id), oid.label);
    assert.ok(objects);
    index.dropSnapshot();
    raw.pkcs11.C_SetAttributeValue(rawSession, objects.primary.handle, [
      { type: pkcs11js.CKA_SIGN, value: false },
    ]);
    const afterChange = reads.count;
    assert.deepEqual((await backend.observe(key))?.usages, ['verify']);
    assert.ok(reads.count > afterChange);
    await backend.setUsages(key, ['sign', 'verify']);
  });
});

describe('a write of this process drops the snapshot of that version', () => {
  it('setUsages: the next observe() shows the new usages', async () => {
    const { key } = cases.find((c) => c.name === 'EC_P256')!;
    await backend.refresh();
    await backend.setUsages(key, []);
    assert.equal((await backend.observe(key))?.state, 'Disabled');
    await backend.setUsages(key, USAGES.EC_P256);
    assert.equal((await backend.observe(key))?.state, 'Enabled');
  });

  it('destroy: the next observe() finds nothing', async () => {
    const { key } = await made('destroyed', { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    await backend.refresh();
    assert.deepEqual(await backend.destroy(key, { delaySeconds: 0 }), { outcome: 'destroyed' });
    assert.equal(await backend.observe(key), undefined);
  });

  it('sealing a recoverable key: the next observe() reads the token', async () => {
    const { key } = cases.find((c) => c.name === 'recoverable')!;
    await backend.refresh();
    await backend.sealRecovery(key);
    const before = reads.count;
    assert.equal((await backend.observe(key))?.state, 'Enabled');
    assert.ok(reads.count > before);
  });
});

it('an object that refuses the enumeration’s reads is indexed by its name and read live', async () => {
  const { key } = cases.find((c) => c.name === 'EC_P384')!;
  const oid = oidOf(key);
  const refusing = new Proxy(raw.pkcs11, {
    get(target, property, receiver) {
      if (property !== 'C_GetAttributeValue') {
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      }
      return (session: pkcs11js.Handle, handle: pkcs11js.Handle, template: pkcs11js.Template) => {
        const result = target.C_GetAttributeValue(session, handle, template);
        const id = result.find((a) => a.type === pkcs11js.CKA_ID)?.value;
        if (template.length > 2 && Buffer.isBuffer(id) && id.equals(oid.id)) {
          throw new pkcs11js.Pkcs11Error(
            'CKR_ATTRIBUTE_TYPE_INVALID',
            pkcs11js.CKR_ATTRIBUTE_TYPE_INVALID,
            'C_GetAttributeValue',
          );
        }
        return result;
      };
    },
  });
  const index = new KeyIndex();
  await index.rebuild(refusing, rawSession);
  const objects = groupKeyObjects(index.lookup(oid.id), oid.label);
  assert.ok(objects?.public);
  assert.equal(index.takeSnapshot(oid.id, objects, 'observe'), undefined);
  index.dropSnapshot();
});
