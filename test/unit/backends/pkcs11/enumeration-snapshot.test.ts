import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pkcs11js from 'pkcs11js';
import { EnumerationSnapshot } from '../../../../src/backends/pkcs11/enumeration-snapshot.ts';
import type { IndexedObject } from '../../../../src/backends/pkcs11/key-index.ts';
import type { ObjectFacts } from '../../../../src/backends/pkcs11/object-facts.ts';

const KEY = '00112233445566778899aabbccddeeff';
const label = 'team-a/signing/v1';

function object(cls: IndexedObject['cls']): IndexedObject {
  return { cls, handle: Buffer.alloc(8), label };
}

function facts(cls: IndexedObject['cls']): ObjectFacts {
  return {
    cls,
    id: Buffer.from(KEY, 'hex'),
    label,
    keyType: pkcs11js.CKK_EC,
    flags: 5,
    algorithm: cls === 'public' ? undefined : 'EC_P256',
    material: cls === 'public' ? [Buffer.from('04', 'hex')] : undefined,
  };
}

function pair(): { snapshot: EnumerationSnapshot; key: { primary: IndexedObject; public: IndexedObject } } {
  const snapshot = new EnumerationSnapshot();
  const key = { primary: object('private'), public: object('public') };
  snapshot.add(KEY, key.primary, facts('private'));
  snapshot.add(KEY, key.public, facts('public'));
  return { snapshot, key };
}

describe('EnumerationSnapshot', () => {
  it('answers observe and publicKey once each, with the facts as read', () => {
    const { snapshot, key } = pair();
    const expected = { primary: facts('private'), public: facts('public') };
    assert.deepEqual(snapshot.take(KEY, key, 'observe'), expected);
    assert.equal(snapshot.take(KEY, key, 'observe'), undefined);
    assert.deepEqual(snapshot.take(KEY, key, 'publicKey'), expected);
    assert.equal(snapshot.take(KEY, key, 'publicKey'), undefined);
  });

  it('has nothing for objects other than those it read, nor after a drop', () => {
    const { snapshot, key } = pair();
    assert.equal(snapshot.take(KEY, { ...key, public: object('public') }, 'observe'), undefined);
    snapshot.drop(KEY);
    assert.equal(snapshot.take(KEY, key, 'publicKey'), undefined);
  });

  it('a secret key is answered for observe only', () => {
    const snapshot = new EnumerationSnapshot();
    const key = { primary: object('secret'), public: undefined };
    snapshot.add(KEY, key.primary, { ...facts('secret'), keyType: pkcs11js.CKK_AES, algorithm: 'AES_256' });
    assert.equal(snapshot.take(KEY, key, 'observe')?.primary.algorithm, 'AES_256');
    assert.equal(snapshot.take(KEY, key, 'publicKey'), undefined);
  });
});
