import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pkcs11js from 'pkcs11js';
import { generationProblems, generationRequest } from '../../../../src/backends/pkcs11/generation.ts';
import { objectIdentity } from '../../../../src/backends/pkcs11/object-identity.ts';
import { VENDOR_PROFILES } from '../../../../src/backends/pkcs11/vendors.ts';

const identity = { uid: 'uid-1', namespace: 'ns', name: 'key', version: 2 };
const oid = objectIdentity(identity, VENDOR_PROFILES.softhsm2);
const id = oid.ids[0] ?? Buffer.alloc(0);

function value(template: pkcs11js.Template, type: number): unknown {
  const matching = template.filter((attribute) => attribute.type === type);
  assert.equal(matching.length, 1, `attribute ${type} once`);
  return matching[0]?.value;
}

describe('generation request', () => {
  it('asks for a private key on the token, behind login, sensitive and never extractable, with id and label', () => {
    const request = generationRequest(
      { algorithm: 'EC_P256', usages: ['sign', 'verify'] },
      oid,
      id,
      VENDOR_PROFILES.softhsm2,
    );
    assert.ok(request.kind === 'pair');
    assert.equal(request.mechanism.mechanism, pkcs11js.CKM_EC_KEY_PAIR_GEN);
    const { privateTemplate: priv, publicTemplate: pub } = request;
    assert.equal(value(priv, pkcs11js.CKA_TOKEN), true);
    assert.equal(value(priv, pkcs11js.CKA_PRIVATE), true);
    assert.equal(value(priv, pkcs11js.CKA_SENSITIVE), true);
    assert.equal(value(priv, pkcs11js.CKA_EXTRACTABLE), false);
    assert.equal(value(priv, pkcs11js.CKA_COPYABLE), false);
    assert.deepEqual(value(priv, pkcs11js.CKA_ID), id);
    assert.deepEqual(value(pub, pkcs11js.CKA_ID), id);
    assert.equal(value(priv, pkcs11js.CKA_LABEL), 'ns/key/v2');
    assert.equal(value(pub, pkcs11js.CKA_LABEL), 'ns/key/v2');
    assert.equal(value(pub, pkcs11js.CKA_TOKEN), true);
    assert.equal(value(pub, pkcs11js.CKA_PRIVATE), false);
    assert.equal(value(priv, pkcs11js.CKA_SIGN), true);
    assert.equal(value(pub, pkcs11js.CKA_VERIFY), true);
    for (const off of [
      pkcs11js.CKA_DECRYPT,
      pkcs11js.CKA_UNWRAP,
      pkcs11js.CKA_SIGN_RECOVER,
      pkcs11js.CKA_DERIVE,
    ]) {
      assert.equal(value(priv, off), false);
    }
    for (const off of [
      pkcs11js.CKA_ENCRYPT,
      pkcs11js.CKA_WRAP,
      pkcs11js.CKA_VERIFY_RECOVER,
      pkcs11js.CKA_DERIVE,
    ]) {
      assert.equal(value(pub, off), false);
    }
  });

  it('marks public keys private where CloudHSM demands it', () => {
    const request = generationRequest(
      { algorithm: 'RSA_2048', usages: ['sign'] },
      oid,
      id,
      VENDOR_PROFILES.cloudhsm,
    );
    assert.ok(request.kind === 'pair');
    assert.equal(value(request.publicTemplate, pkcs11js.CKA_PRIVATE), true);
    assert.equal(value(request.publicTemplate, pkcs11js.CKA_MODULUS_BITS), 2048);
    assert.equal(value(request.publicTemplate, pkcs11js.CKA_VERIFY), false);
  });

  it('asks for a 32-byte secret key with only the spec usages', () => {
    const request = generationRequest(
      { algorithm: 'AES_256', usages: ['wrap', 'unwrap'] },
      oid,
      id,
      VENDOR_PROFILES.softhsm2,
    );
    assert.ok(request.kind === 'secret');
    const { template } = request;
    assert.equal(value(template, pkcs11js.CKA_KEY_TYPE), pkcs11js.CKK_AES);
    assert.equal(value(template, pkcs11js.CKA_VALUE_LEN), 32);
    assert.equal(value(template, pkcs11js.CKA_SENSITIVE), true);
    assert.equal(value(template, pkcs11js.CKA_EXTRACTABLE), false);
    assert.equal(value(template, pkcs11js.CKA_WRAP), true);
    assert.equal(value(template, pkcs11js.CKA_UNWRAP), true);
    assert.equal(value(template, pkcs11js.CKA_ENCRYPT), false);
    assert.equal(value(template, pkcs11js.CKA_SIGN), false);
  });
});

describe('generation problems', () => {
  const good = {
    algorithm: 'EC_P256' as const,
    id: id,
    label: oid.label,
    usages: ['sign' as const, 'verify' as const],
    problems: [],
  };
  const spec = { algorithm: 'EC_P256' as const, usages: ['verify' as const, 'sign' as const] };

  it('accepts a key that is what was asked for, in any usage order', () => {
    assert.deepEqual(generationProblems(good, oid, id, spec), []);
  });

  it('names every difference', () => {
    const problems = generationProblems(
      {
        ...good,
        algorithm: undefined,
        label: 'other',
        usages: ['sign'],
        problems: ['CKA_SENSITIVE is false'],
      },
      oid,
      id,
      spec,
    );
    assert.deepEqual(problems, [
      'CKA_SENSITIVE is false',
      'it is unrecognizable',
      'CKA_LABEL differs',
      'its usages are [sign]',
    ]);
  });
});
