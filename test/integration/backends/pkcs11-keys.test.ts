// The PKCS#11 backend against a real SoftHSM2 token: generation, protection, signatures, adoption, usages, destroy.
// The token is also read from outside (raw pkcs11js reads and OpenSC's pkcs11-tool in its own process), so the
// assertions do not rest on the backend's own view of itself.

import assert from 'node:assert/strict';
import { constants, createHash, createPublicKey, generateKeyPairSync, randomUUID, verify } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pkcs11js from 'pkcs11js';
import {
  ALGORITHMS,
  type Algorithm,
  type KeyUsage,
  archivedUsages,
  signatureDigest,
} from '../../../src/backends/algorithms.ts';
import {
  AlreadyExistsError,
  NotFoundError,
  PermissionDeniedError,
  PolicyViolationError,
  UnsupportedError,
} from '../../../src/backends/errors.ts';
import type { KeyIdentity } from '../../../src/backends/identity.ts';
import { type ModuleLease, openModule } from '../../../src/backends/pkcs11/module.ts';
import { objectIdentity } from '../../../src/backends/pkcs11/object-identity.ts';
import { Pkcs11Backend } from '../../../src/backends/pkcs11/pkcs11-backend.ts';
import { VENDOR_PROFILES } from '../../../src/backends/pkcs11/vendors.ts';
import {
  SOFTHSM_MODULE,
  SOFTHSM_USAGES as USAGES,
  SoftHsm,
  type SoftHsmToken,
} from '../../support/softhsm.ts';

const SIGNING_ALGORITHMS: readonly Algorithm[] = [
  'EC_P256',
  'EC_P384',
  'EC_P521',
  'ED25519',
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
];
let hsm: SoftHsm;
let token: SoftHsmToken;
let backend: Pkcs11Backend;
let raw: ModuleLease;
let rawSession: pkcs11js.Handle;

function identity(name: string, version = 1): KeyIdentity {
  return { uid: randomUUID(), namespace: 'team-a', name, version };
}

function idHex(key: KeyIdentity): string {
  return objectIdentity(key, VENDOR_PROFILES.softhsm2).ids[0]!.toString('hex');
}

/** Objects with this key's CKA_ID, as pkcs11-tool sees them from another process. */
function listed(key: KeyIdentity): ReturnType<SoftHsm['listObjects']> {
  return hsm.listObjects(token).filter((object) => object.id === idHex(key));
}

/** Handles of this key's objects of one class, found with raw pkcs11js. */
function rawFind(key: KeyIdentity, cko: number): pkcs11js.Handle[] {
  const id = objectIdentity(key, VENDOR_PROFILES.softhsm2).ids[0]!;
  raw.pkcs11.C_FindObjectsInit(rawSession, [
    { type: pkcs11js.CKA_CLASS, value: cko },
    { type: pkcs11js.CKA_ID, value: id },
  ]);
  const handles = raw.pkcs11.C_FindObjects(rawSession, 10);
  raw.pkcs11.C_FindObjectsFinal(rawSession);
  return handles;
}

function rawBool(handle: pkcs11js.Handle, type: number): boolean {
  return raw.pkcs11.C_GetAttributeValue(rawSession, handle, [{ type }])[0]?.value[0] === 1;
}

/** An EC key pair made with raw pkcs11js, outside the backend, carrying the given id and label. */
function rawKeyPair(id: Buffer, label: string): pkcs11js.KeyPair {
  const naming = [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_ID, value: id },
    { type: pkcs11js.CKA_LABEL, value: label },
  ];
  return raw.pkcs11.C_GenerateKeyPair(
    rawSession,
    { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
    [...naming, { type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from('06082a8648ce3d030107', 'hex') }],
    [...naming, { type: pkcs11js.CKA_PRIVATE, value: true }, { type: pkcs11js.CKA_SENSITIVE, value: true }],
  );
}

before(async () => {
  hsm = SoftHsm.create();
  token = hsm.initToken('keyward-keys');
  backend = await Pkcs11Backend.connect({
    modulePath: SOFTHSM_MODULE,
    vendor: 'softhsm2',
    token: { label: token.label },
    pin: Buffer.from(token.pin),
    maxSessions: 4,
  });
  // A second user of the same module, for reading (and tampering with) the token without the backend's code. The backend's login
  // covers it (login state belongs to the application).
  raw = openModule(SOFTHSM_MODULE);
  const slot = raw.pkcs11
    .C_GetSlotList(true)
    .find((s) => raw.pkcs11.C_GetTokenInfo(s).label.trim() === token.label);
  assert.ok(slot);
  rawSession = raw.pkcs11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
});

after(async () => {
  raw.pkcs11.C_CloseSession(rawSession);
  await backend.close();
  raw.release();
  hsm.cleanup();
});

describe('capabilities', () => {
  it('offers every algorithm SoftHSM 2.6 has mechanisms for, and no native rotation or versions', () => {
    const capabilities = backend.capabilities();
    assert.deepEqual(capabilities.algorithms, [...ALGORITHMS]);
    assert.deepEqual(capabilities.nativeRotation, []);
    assert.equal(capabilities.versions, false);
    assert.equal(capabilities.archival, 'usages');
    assert.equal(capabilities.minDestroyDelaySeconds, 0);
  });
});

describe('generation', () => {
  for (const algorithm of ALGORITHMS) {
    it(`generates ${algorithm} inside the token, protected and labelled`, async () => {
      const key = identity(`gen-${algorithm.toLowerCase().replace('_', '-')}`);
      const result = await backend.create(key, { algorithm, usages: USAGES[algorithm] });
      assert.equal(result.outcome, 'created');
      assert.equal(result.version.algorithm, algorithm);
      assert.deepEqual(result.version.usages, USAGES[algorithm]);
      assert.equal(result.version.label, `team-a/${key.name}/v1`);

      const primaryClass =
        algorithm === 'AES_256' || algorithm === 'HMAC_SHA256'
          ? pkcs11js.CKO_SECRET_KEY
          : pkcs11js.CKO_PRIVATE_KEY;
      const [primary, ...more] = rawFind(key, primaryClass);
      assert.ok(primary);
      assert.equal(more.length, 0);
      assert.equal(rawBool(primary, pkcs11js.CKA_TOKEN), true);
      assert.equal(rawBool(primary, pkcs11js.CKA_PRIVATE), true);
      assert.equal(rawBool(primary, pkcs11js.CKA_SENSITIVE), true);
      assert.equal(rawBool(primary, pkcs11js.CKA_EXTRACTABLE), false);
      assert.equal(rawBool(primary, pkcs11js.CKA_NEVER_EXTRACTABLE), true);
      assert.equal(rawBool(primary, pkcs11js.CKA_LOCAL), true);
      assert.equal(rawBool(primary, pkcs11js.CKA_COPYABLE), false, 'C_CopyObject cannot duplicate it');

      // The key value cannot be read out.
      const secretPart = algorithm.startsWith('RSA') ? pkcs11js.CKA_PRIVATE_EXPONENT : pkcs11js.CKA_VALUE;
      assert.throws(
        () => raw.pkcs11.C_GetAttributeValue(rawSession, primary, [{ type: secretPart }]),
        (error: Error) => error.message === 'CKR_ATTRIBUTE_SENSITIVE',
      );

      // Seen from another process: both halves carry the id and the label.
      const objects = listed(key);
      const expectedKinds =
        primaryClass === pkcs11js.CKO_SECRET_KEY ? ['Secret Key'] : ['Private Key', 'Public Key'];
      assert.deepEqual(objects.map((o) => o.kind).sort(), expectedKinds.sort());
      for (const object of objects) assert.equal(object.label, result.version.label);
      const stored = objects.find((o) => o.kind !== 'Public Key');
      assert.ok(stored);
      for (const access of ['sensitive', 'always sensitive', 'never extractable', 'local']) {
        assert.ok(stored.access.includes(access), `${access} in ${stored.access.join(', ')}`);
      }
    });
  }

  it('writes an RFC 7512 key reference without a PIN', async () => {
    const key = identity('uri');
    const { version: observed } = await backend.create(key, {
      algorithm: 'EC_P256',
      usages: ['sign', 'verify'],
    });
    const info = backend.info;
    const id = Array.from(
      Buffer.from(idHex(key), 'hex'),
      (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    ).join('');
    assert.equal(
      observed.keyRef,
      `pkcs11:token=keyward-keys;serial=${info.serial};object=team-a%2Furi%2Fv1;id=${id};type=private`,
    );
    assert.ok(!observed.keyRef.includes(token.pin));
    assert.ok(!/pin-/.test(observed.keyRef));
  });

  it('refuses usages the algorithm does not allow, before touching the token', async () => {
    const key = identity('bad-usage');
    await assert.rejects(
      backend.create(key, { algorithm: 'EC_P256', usages: ['sign', 'encrypt'] }),
      UnsupportedError,
    );
    await assert.rejects(backend.create(key, { algorithm: 'AES_256', usages: [] }), UnsupportedError);
    assert.equal(listed(key).length, 0);
  });
});

describe('signatures', () => {
  const message = Buffer.from('keyward signs this');
  const tampered = Buffer.from('keyward signs that');

  for (const algorithm of SIGNING_ALGORITHMS) {
    const paddings = algorithm.startsWith('RSA') ? (['pkcs1', 'pss'] as const) : ([undefined] as const);
    for (const rsaPadding of paddings) {
      it(`${algorithm}${rsaPadding ? ` ${rsaPadding}` : ''}: a token signature verifies in node:crypto against the exported SPKI`, async () => {
        const key = identity(`sig-${algorithm.toLowerCase().replace('_', '-')}-${rsaPadding ?? 'x'}`);
        await backend.create(key, { algorithm, usages: ['sign', 'verify'] });
        const signature = await backend.sign(key, { message: message }, { rsaPadding, ecdsaFormat: 'raw' });
        const { spki, fingerprint } = await backend.publicKey(key);
        const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
        assert.equal(
          fingerprint,
          `SHA256:${createHash('sha256').update(spki).digest('base64').replace(/=+$/, '')}`,
        );

        const digest = signatureDigest(algorithm) ?? null;
        const options = algorithm.startsWith('EC_')
          ? { key: publicKey, dsaEncoding: 'ieee-p1363' as const }
          : rsaPadding === 'pss'
            ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
            : { key: publicKey };
        assert.equal(verify(digest, message, options, signature), true);
        assert.equal(verify(digest, tampered, options, signature), false);

        // The token's own verify agrees.
        assert.equal(
          await backend.verify(key, { message: message }, signature, { rsaPadding, ecdsaFormat: 'raw' }),
          true,
        );
        assert.equal(
          await backend.verify(key, { message: tampered }, signature, { rsaPadding, ecdsaFormat: 'raw' }),
          false,
        );
      });
    }
  }

  it('EC signatures are raw r||s of twice the coordinate size', async () => {
    const key = identity('sig-raw');
    await backend.create(key, { algorithm: 'EC_P521', usages: ['sign', 'verify'] });
    assert.equal((await backend.sign(key, { message: message }, { ecdsaFormat: 'raw' })).length, 132);
  });

  it('HMAC_SHA256 makes a MAC the token verifies', async () => {
    const key = identity('mac');
    await backend.create(key, { algorithm: 'HMAC_SHA256', usages: ['sign', 'verify'] });
    const mac = await backend.sign(key, { message: message }, { ecdsaFormat: 'raw' });
    assert.equal(mac.length, 32);
    assert.equal(await backend.verify(key, { message: message }, mac, { ecdsaFormat: 'raw' }), true);
    assert.equal(await backend.verify(key, { message: tampered }, mac, { ecdsaFormat: 'raw' }), false);
  });

  it('AES keys do not sign and have no public key', async () => {
    const key = identity('aes-no-sign');
    await backend.create(key, { algorithm: 'AES_256', usages: ['encrypt', 'decrypt'] });
    await assert.rejects(backend.sign(key, { message: message }, { ecdsaFormat: 'raw' }), UnsupportedError);
    await assert.rejects(backend.publicKey(key), UnsupportedError);
  });

  it('serves many concurrent signatures through the bounded pool', async () => {
    const key = identity('concurrent');
    await backend.create(key, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    const publicKey = createPublicKey({
      key: (await backend.publicKey(key)).spki,
      format: 'der',
      type: 'spki',
    });
    const messages = Array.from({ length: 40 }, (_, i) => Buffer.from(`message ${i}`));
    const signatures = await Promise.all(
      messages.map((m) => backend.sign(key, { message: m }, { ecdsaFormat: 'raw' })),
    );
    for (const [i, signature] of signatures.entries()) {
      assert.equal(
        verify('sha256', messages[i]!, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature),
        true,
      );
    }
  });
});

describe('idempotent create', () => {
  it('adopts the key a second create finds, leaving exactly one object pair', async () => {
    const key = identity('adopt');
    const first = await backend.create(key, { algorithm: 'EC_P384', usages: ['sign', 'verify'] });
    const second = await backend.create(key, { algorithm: 'EC_P384', usages: ['sign', 'verify'] });
    assert.equal(first.outcome, 'created');
    assert.equal(second.outcome, 'adopted');
    assert.equal(second.version.keyRef, first.version.keyRef);
    assert.deepEqual(
      listed(key)
        .map((o) => o.kind)
        .sort(),
      ['Private Key', 'Public Key'],
    );
  });

  it('makes one key when creates of the same version race', async () => {
    const key = identity('race');
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        backend.create(key, { algorithm: 'ED25519', usages: ['sign', 'verify'] }),
      ),
    );
    assert.deepEqual(results.map((r) => r.outcome).sort(), [
      'adopted',
      'adopted',
      'adopted',
      'adopted',
      'created',
    ]);
    assert.equal(listed(key).length, 2);
  });

  it('creates many keys at once, one generation at a time on SoftHSM, each key once', async () => {
    const keys = Array.from({ length: 24 }, (_, i) => identity(`many-${i}`));
    const algorithms = ['EC_P256', 'ED25519', 'RSA_2048'] as const;
    const results = await Promise.all(
      keys.map((key, i) =>
        backend.create(key, { algorithm: algorithms[i % algorithms.length]!, usages: ['sign', 'verify'] }),
      ),
    );
    assert.deepEqual(new Set(results.map((r) => r.outcome)), new Set(['created']));
    assert.equal(new Set(results.map((r) => r.version.versionId)).size, keys.length);
    for (const [i, key] of keys.entries()) {
      assert.equal(listed(key).length, 2, `one object pair for ${key.name}`);
      assert.deepEqual(results[i]!.publicKey, await backend.publicKey(key));
    }
  });

  it('a restarted backend finds the key from its first enumeration and adopts it', async () => {
    const key = identity('restart');
    const created = await backend.create(key, { algorithm: 'RSA_2048', usages: ['sign', 'verify'] });
    const fingerprint = (await backend.publicKey(key)).fingerprint;
    const restarted = await Pkcs11Backend.connect({
      modulePath: SOFTHSM_MODULE,
      vendor: 'softhsm2',
      token: { label: token.label },
      pin: Buffer.from(token.pin),
    });
    try {
      assert.deepEqual(await restarted.observe(key), created.version);
      const adopted = await restarted.create(key, { algorithm: 'RSA_2048', usages: ['sign', 'verify'] });
      assert.equal(adopted.outcome, 'adopted');
      assert.equal((await restarted.publicKey(key)).fingerprint, fingerprint);
    } finally {
      await restarted.close();
    }
    assert.equal(listed(key).length, 2);
  });

  it('a key made by another backend becomes visible after refresh()', async () => {
    const key = identity('elsewhere');
    const other = await Pkcs11Backend.connect({
      modulePath: SOFTHSM_MODULE,
      vendor: 'softhsm2',
      token: { label: token.label },
      pin: Buffer.from(token.pin),
    });
    try {
      await other.create(key, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    } finally {
      await other.close();
    }
    await backend.refresh();
    assert.equal((await backend.observe(key))?.algorithm, 'EC_P256');
    assert.equal(
      (await backend.create(key, { algorithm: 'EC_P256', usages: ['sign', 'verify'] })).outcome,
      'adopted',
    );
  });

  it('clears a public key left without its private key, then generates', async () => {
    const key = identity('stray-public');
    const {
      ids: [id = Buffer.alloc(0)],
      label,
    } = objectIdentity(key, VENDOR_PROFILES.softhsm2);
    const stray = rawKeyPair(id, label);
    raw.pkcs11.C_DestroyObject(rawSession, stray.privateKey);
    assert.deepEqual(
      listed(key).map((o) => o.kind),
      ['Public Key'],
    );
    await backend.refresh(); // made behind the backend's back: seen from its next enumeration (docs/backends.md)
    const result = await backend.create(key, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    assert.equal(result.outcome, 'created');
    assert.deepEqual(
      listed(key)
        .map((o) => o.kind)
        .sort(),
      ['Private Key', 'Public Key'],
    );
    const spki = (await backend.publicKey(key)).spki;
    const signature = await backend.sign(key, { message: Buffer.from('fresh') }, { ecdsaFormat: 'raw' });
    assert.equal(
      verify(
        'sha256',
        Buffer.from('fresh'),
        { key: createPublicKey({ key: spki, format: 'der', type: 'spki' }), dsaEncoding: 'ieee-p1363' },
        signature,
      ),
      true,
    );
  });

  it('will not adopt a key of another algorithm under the same identity', async () => {
    const key = identity('other-algorithm');
    await backend.create(key, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    await assert.rejects(
      backend.create(key, { algorithm: 'EC_P384', usages: ['sign', 'verify'] }),
      AlreadyExistsError,
    );
    assert.equal(listed(key).length, 2);
  });

  it('will not adopt a public key that is not the other half of the private key', async () => {
    // Someone with the partition PIN pairs the private key of one key pair with the public key of another: the
    // public key published would belong to a private key nobody knows of.
    const key = identity('mismatched');
    const {
      ids: [id = Buffer.alloc(0)],
      label,
    } = objectIdentity(key, VENDOR_PROFILES.softhsm2);
    const first = rawKeyPair(id, label);
    const second = rawKeyPair(id, label);
    raw.pkcs11.C_DestroyObject(rawSession, first.publicKey);
    raw.pkcs11.C_DestroyObject(rawSession, second.privateKey);
    await backend.refresh(); // made behind the backend's back: seen from its next enumeration (docs/backends.md)
    await assert.rejects(
      backend.create(key, { algorithm: 'EC_P256', usages: ['sign', 'verify'] }),
      (error: Error) =>
        error instanceof PolicyViolationError && /does not verify with the public key/.test(error.message),
    );
    assert.equal(listed(key).length, 2, 'left in place for a human to look at');
  });

  it('will not adopt a key pair imported rather than generated in the token (CKA_LOCAL false)', async () => {
    const key = identity('imported');
    const {
      ids: [id = Buffer.alloc(0)],
      label,
    } = objectIdentity(key, VENDOR_PROFILES.softhsm2);
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    const point = Buffer.concat([
      Buffer.from([0x04]),
      Buffer.from(jwk.x ?? '', 'base64url'),
      Buffer.from(jwk.y ?? '', 'base64url'),
    ]);
    const common = [
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
      { type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from('06082a8648ce3d030107', 'hex') },
      { type: pkcs11js.CKA_ID, value: id },
      { type: pkcs11js.CKA_LABEL, value: label },
    ];
    raw.pkcs11.C_CreateObject(rawSession, [
      ...common,
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_SIGN, value: true },
      { type: pkcs11js.CKA_VALUE, value: Buffer.from(jwk.d ?? '', 'base64url') },
    ]);
    raw.pkcs11.C_CreateObject(rawSession, [
      ...common,
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
      { type: pkcs11js.CKA_VERIFY, value: true },
      { type: pkcs11js.CKA_EC_POINT, value: Buffer.concat([Buffer.from([0x04, point.length]), point]) },
    ]);
    await backend.refresh(); // made behind the backend's back: seen from its next enumeration (docs/backends.md)
    await assert.rejects(
      backend.create(key, { algorithm: 'EC_P256', usages: ['sign', 'verify'] }),
      (error: Error) =>
        error instanceof PolicyViolationError &&
        /CKA_LOCAL is false/.test(error.message) &&
        /public key was not generated in the token/.test(error.message),
    );
  });

  it('will not adopt an extractable key that carries the identity', async () => {
    const key = identity('extractable');
    const {
      ids: [id = Buffer.alloc(0)],
      label,
    } = objectIdentity(key, VENDOR_PROFILES.softhsm2);
    raw.pkcs11.C_GenerateKey(rawSession, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: false },
      { type: pkcs11js.CKA_EXTRACTABLE, value: true },
      { type: pkcs11js.CKA_ID, value: id },
      { type: pkcs11js.CKA_LABEL, value: label },
    ]);
    await backend.refresh(); // made behind the backend's back: seen from its next enumeration (docs/backends.md)
    const rejected = backend.create(key, { algorithm: 'AES_256', usages: ['encrypt', 'decrypt'] });
    await assert.rejects(rejected, (error: Error) => {
      assert.ok(error instanceof PolicyViolationError);
      assert.match(error.message, /CKA_SENSITIVE is false/);
      assert.match(error.message, /CKA_EXTRACTABLE is true/);
      return true;
    });
    // Left in place for a human to look at; nothing new generated next to it.
    assert.equal(listed(key).length, 1);
  });
});

describe('usages', () => {
  it('disable clears every use flag and signing fails; enable restores the spec usages', async () => {
    const key = identity('disable');
    await backend.create(key, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    await backend.setUsages(key, []);
    assert.deepEqual((await backend.observe(key))?.usages, []);
    const [privateKey] = rawFind(key, pkcs11js.CKO_PRIVATE_KEY);
    const [publicKey] = rawFind(key, pkcs11js.CKO_PUBLIC_KEY);
    assert.ok(privateKey && publicKey);
    assert.equal(rawBool(privateKey, pkcs11js.CKA_SIGN), false);
    assert.equal(rawBool(publicKey, pkcs11js.CKA_VERIFY), false);
    for (const object of listed(key)) assert.deepEqual(object.usage, [], `${object.kind} usage`);
    await assert.rejects(
      backend.sign(key, { message: Buffer.from('x') }, { ecdsaFormat: 'raw' }),
      PermissionDeniedError,
    );

    await backend.setUsages(key, ['sign', 'verify']);
    assert.deepEqual((await backend.observe(key))?.usages, ['sign', 'verify']);
    assert.equal((await backend.sign(key, { message: Buffer.from('x') }, { ecdsaFormat: 'raw' })).length, 64);
  });

  it('archival keeps verify/decrypt/unwrap only', async () => {
    const key = identity('archive');
    const usages: KeyUsage[] = ['sign', 'verify', 'encrypt', 'decrypt', 'wrap', 'unwrap'];
    await backend.create(key, { algorithm: 'RSA_2048', usages });
    const signature = await backend.sign(key, { message: Buffer.from('old') }, { ecdsaFormat: 'raw' });
    await backend.setUsages(key, archivedUsages(usages));
    assert.deepEqual((await backend.observe(key))?.usages, ['verify', 'decrypt', 'unwrap']);
    await assert.rejects(
      backend.sign(key, { message: Buffer.from('new') }, { ecdsaFormat: 'raw' }),
      PermissionDeniedError,
    );
    assert.equal(
      await backend.verify(key, { message: Buffer.from('old') }, signature, { ecdsaFormat: 'raw' }),
      true,
    );
  });

  it('refuses usages the algorithm does not allow', async () => {
    const key = identity('usage-check');
    await backend.create(key, { algorithm: 'ED25519', usages: ['sign', 'verify'] });
    await assert.rejects(backend.setUsages(key, ['sign', 'decrypt']), UnsupportedError);
  });
});

describe('destroy', () => {
  it('removes every object of the key version; a second destroy finds nothing', async () => {
    const key = identity('destroy');
    await backend.create(key, { algorithm: 'RSA_2048', usages: ['sign', 'verify'] });
    assert.equal(listed(key).length, 2);
    assert.deepEqual(await backend.destroy(key, { delaySeconds: 0 }), { outcome: 'destroyed' });
    assert.equal(listed(key).length, 0);
    assert.equal(await backend.observe(key), undefined);
    await assert.rejects(
      backend.sign(key, { message: Buffer.from('x') }, { ecdsaFormat: 'raw' }),
      NotFoundError,
    );
    assert.deepEqual(await backend.destroy(key, { delaySeconds: 0 }), { outcome: 'absent' });
  });

  it('refuses to destroy objects that carry its id under a foreign label', async () => {
    const key = identity('foreign');
    const {
      ids: [id = Buffer.alloc(0)],
    } = objectIdentity(key, VENDOR_PROFILES.softhsm2);
    rawKeyPair(id, 'someone-else/key');
    await assert.rejects(backend.destroy(key, { delaySeconds: 0 }), AlreadyExistsError);
    await assert.rejects(
      backend.create(key, { algorithm: 'EC_P256', usages: ['sign', 'verify'] }),
      AlreadyExistsError,
    );
    assert.equal(listed(key).length, 2);
  });

  it('only touches its own version', async () => {
    const v1 = identity('versions');
    const v2 = { ...v1, version: 2 };
    await backend.create(v1, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    await backend.create(v2, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    await backend.destroy(v1, { delaySeconds: 0 });
    assert.equal(await backend.observe(v1), undefined);
    assert.equal((await backend.observe(v2))?.label, 'team-a/versions/v2');
  });

  it('a create after a destroy generates a new key', async () => {
    const key = identity('recreate');
    await backend.create(key, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
    const before = (await backend.publicKey(key)).fingerprint;
    await backend.destroy(key, { delaySeconds: 0 });
    assert.equal(
      (await backend.create(key, { algorithm: 'EC_P256', usages: ['sign', 'verify'] })).outcome,
      'created',
    );
    assert.notEqual((await backend.publicKey(key)).fingerprint, before);
  });
});
