import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { Algorithm } from '../../../src/backends/algorithms.ts';
import type { SignInput } from '../../../src/backends/backend.ts';
import { CertificateError, checkRootRequest, signRoot } from '../../../src/ceremony/certificate.ts';
import { SubjectError, parseSubject } from '../../../src/ceremony/subject.ts';
import { OpenSsl } from '../../support/openssl.ts';
import { ensureZlint, zlint } from '../../support/zlint.ts';

const YEAR = 365 * 86_400_000;
const SUBJECT = 'CN=Example Root CA 2026,O=Example Corp,C=DE';

const GENKEY: Partial<Record<Algorithm, string[]>> = {
  EC_P256: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  EC_P384: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  RSA_2048: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
};

describe('the root certificate', () => {
  const openssl = new OpenSsl();
  before(async () => {
    await ensureZlint();
  });
  after(() => {
    openssl.remove();
  });

  for (const algorithm of ['EC_P256', 'EC_P384', 'RSA_2048'] as const) {
    it(`${algorithm}: openssl verifies it against itself and zlint finds no error`, async () => {
      const { spki, signer } = fileRoot(openssl, algorithm, algorithm);
      const notBefore = new Date();
      const notAfter = new Date(notBefore.getTime() + 20 * YEAR);
      const root = await signRoot({ algorithm, subject: SUBJECT, spki, notBefore, notAfter }, signer);
      const file = openssl.write(`${algorithm}.pem`, root.pem);
      const text = openssl.text(['x509', '-in', file, '-noout', '-text']);
      assert.match(text, /Basic Constraints: critical\s+CA:TRUE\n/);
      assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
      assert.match(text, /Subject: C = DE, O = Example Corp, CN = Example Root CA 2026/);
      assert.match(text, /Subject Key Identifier/);
      assert.equal(openssl.text(['verify', '-CAfile', file, file]).trim(), `${file}: OK`);
      const serial = openssl.text(['x509', '-in', file, '-noout', '-serial']).trim().split('=')[1] ?? '';
      assert.equal(serial.length, 32);
      assert.equal(serial, root.serial);
      const { errors } = await zlint(root.pem);
      assert.deepEqual(errors, []);
    });
  }

  it('refuses a certificate the HSM signed wrongly', async () => {
    const { spki } = fileRoot(openssl, 'real', 'EC_P256');
    const other = fileRoot(openssl, 'other', 'EC_P256');
    const notBefore = new Date();
    const notAfter = new Date(notBefore.getTime() + 16 * YEAR);
    await assert.rejects(
      signRoot({ algorithm: 'EC_P256', subject: SUBJECT, spki, notBefore, notAfter }, other.signer),
      (error: unknown) =>
        error instanceof CertificateError && /does not verify with the root key/.test(error.message),
    );
  });

  it('refuses what cannot make a Baseline Requirements root', () => {
    assert.throws(() => {
      checkRootRequest({ algorithm: 'ED25519', subject: SUBJECT });
    }, /do not allow ED25519/);
    assert.throws(
      () => parseSubject('CN=Root,O=Example'),
      (e: unknown) => e instanceof SubjectError && /C missing/.test(e.message),
    );
    assert.throws(() => parseSubject('CN=Root,O=Example,C=Germany'), /two-letter/);
    assert.throws(() => parseSubject('CN=Root,O=Example,C=DE,OU=PKI'), /OU=PKI" is not allowed/);
    assert.deepEqual(
      parseSubject('CN=Root\\, Inc,O=Example,C=DE').map((a) => a.key),
      ['C', 'O', 'CN'],
    );
  });

  it('refuses a subject that displays as another or is not plain text, and counts characters, not UTF-16 units', () => {
    for (const [odd, code] of [
      ['\u202e', '202E'], // right-to-left override: "Example ACgnalF" shows as "Example FlangCA"
      ['\u200f', '200F'],
      ['\u0000', '0000'],
      ['\u200d', '200D'],
      ['\ud800', 'D800'],
      ['\ufffd', 'FFFD'],
      ['\u0007', '0007'],
    ]) {
      assert.throws(
        () => parseSubject(`CN=Example ${odd}Root,O=Example,C=DE`),
        (e: unknown) => e instanceof SubjectError && e.message.includes(`U+${code}`),
        code,
      );
    }
    // Combining marks and emoji are text: accepted, and 64 of them fit in a CN even though each takes two units.
    assert.equal(parseSubject('CN=Ca\u0301fe\u0301 Root,O=Example,C=DE')[2]?.value, 'Ca\u0301fe\u0301 Root');
    assert.equal(parseSubject(`CN=${'\u{1f511}'.repeat(64)},O=Example,C=DE`)[2]?.value.length, 128);
    assert.throws(() => parseSubject(`CN=${'\u{1f511}'.repeat(65)},O=Example,C=DE`), /1 to 64 characters/);
  });
});

/**
 * Stands in for the HSM: a key in a file, and `openssl pkeyutl -sign` over the digest it is given, which is what
 * C_Sign with CKM_ECDSA (DER) or CKM_RSA_PKCS (DigestInfo) does.
 */
function fileRoot(openssl: OpenSsl, name: string, algorithm: Algorithm) {
  openssl.run(['genpkey', ...(GENKEY[algorithm] ?? []), '-out', `${name}.key`]);
  const spki = openssl.run(['pkey', '-in', `${name}.key`, '-pubout', '-outform', 'DER']);
  const signer = (input: SignInput): Promise<Buffer> => {
    assert.ok('digest' in input, 'a root certificate is signed over its digest');
    const digest = openssl.write(`${name}.digest`, input.digest);
    return Promise.resolve(
      openssl.run([
        'pkeyutl',
        '-sign',
        '-inkey',
        `${name}.key`,
        '-in',
        digest,
        '-pkeyopt',
        `digest:${input.hash}`,
      ]),
    );
  };
  return { spki, signer };
}
