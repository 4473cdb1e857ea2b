// An intermediate CA certificate from an openssl CSR, signed by a root whose key openssl holds (as the HSM would):
// openssl verify chains it to the root, zlint finds no error, and CSRs that must be refused are, with a message.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import type { SignInput } from '../../../src/backends/backend.ts';
import { signRoot } from '../../../src/ceremony/certificate.ts';
import { checkIntermediateCsr } from '../../../src/ceremony/csr.ts';
import { signIntermediate } from '../../../src/ceremony/intermediate.ts';
import { OpenSsl } from '../../support/openssl.ts';
import { ensureZlint, zlint } from '../../support/zlint.ts';

const YEAR = 365 * 86_400_000;
const CRL = 'http://crl.example.com/root-2026.crl';

describe('the intermediate CA certificate', () => {
  const openssl = new OpenSsl();
  let rootDer: Buffer;
  const signer = (input: SignInput): Promise<Buffer> => {
    assert.ok('digest' in input);
    const digest = openssl.write('root.digest', input.digest);
    return Promise.resolve(
      openssl.run([
        'pkeyutl',
        '-sign',
        '-inkey',
        'root.key',
        '-in',
        digest,
        '-pkeyopt',
        `digest:${input.hash}`,
      ]),
    );
  };
  const csr = (subject: string, ...extra: string[]) => {
    openssl.run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'int.key']);
    return openssl.text(['req', '-new', '-key', 'int.key', '-subj', subject, ...extra]);
  };
  const profile = () => ({
    pathLength: 0,
    crlDistributionPoint: CRL,
    notBefore: new Date(Math.floor(Date.now() / 1000) * 1000),
    notAfter: new Date(Date.now() + 5 * YEAR),
  });

  before(async () => {
    await ensureZlint();
    openssl.run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', 'root.key']);
    const spki = openssl.run(['pkey', '-in', 'root.key', '-pubout', '-outform', 'DER']);
    const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
    const root = await signRoot(
      {
        algorithm: 'EC_P384',
        subject: 'CN=Example Root CA 2026,O=Example Corp,C=DE',
        spki,
        notBefore,
        notAfter: new Date(notBefore.getTime() + 20 * YEAR),
      },
      signer,
    );
    rootDer = root.der;
    openssl.write('root.pem', root.pem);
  });
  after(() => {
    openssl.remove();
  });

  it('chains to the root with openssl verify, has the profile, and zlint finds no error', async () => {
    const request = checkIntermediateCsr(csr('/C=DE/O=Example Corp/CN=Example Issuing CA 1'));
    const signed = await signIntermediate(
      { algorithm: 'EC_P384', certificate: rootDer },
      request,
      profile(),
      signer,
    );
    const file = openssl.write('int.pem', signed.pem);
    assert.match(openssl.text(['verify', '-CAfile', 'root.pem', file]), /int.pem: OK/);
    const text = openssl.text(['x509', '-in', file, '-noout', '-text']);
    assert.match(text, /Basic Constraints: critical\s+CA:TRUE, pathlen:0\n/);
    assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
    assert.match(text, /Subject: C = DE, O = Example Corp, CN = Example Issuing CA 1/);
    assert.match(text, new RegExp(CRL.replace(/\./g, '\\.')));
    const root = new X509Certificate(rootDer);
    const rootSki = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(
      openssl.text(['x509', '-in', 'root.pem', '-noout', '-text']),
    )?.[1];
    assert.match(text, new RegExp(`Authority Key Identifier:\\s+(keyid:)?${rootSki ?? 'none'}`));
    assert.ok(new X509Certificate(signed.der).checkIssued(root));
    const { errors } = await zlint(signed.pem);
    assert.deepEqual(errors, []);
  });

  it('refuses validity outside the root', async () => {
    const request = checkIntermediateCsr(csr('/C=DE/O=Example Corp/CN=Too Long CA'));
    await assert.rejects(
      signIntermediate(
        { algorithm: 'EC_P384', certificate: rootDer },
        request,
        { ...profile(), notAfter: new Date(Date.now() + 30 * YEAR) },
        signer,
      ),
      /inside the root's/,
    );
  });

  it('refuses a CSR whose signature does not verify', () => {
    const pem = csr('/C=DE/O=Example Corp/CN=Example Issuing CA 1');
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const at = der.indexOf(Buffer.from('Issuing'));
    der[at] = 'J'.charCodeAt(0); // the subject changed after signing
    const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    assert.throws(() => checkIntermediateCsr(forged), /signature does not verify/);
  });

  it('refuses a CSR that asks for what an intermediate may not have', () => {
    const subject = '/C=DE/O=Example Corp/CN=Example Issuing CA 1';
    assert.throws(
      () => checkIntermediateCsr(csr(subject, '-addext', 'basicConstraints=critical,CA:FALSE')),
      /end-entity certificate/,
    );
    assert.throws(
      () => checkIntermediateCsr(csr(subject, '-addext', 'subjectAltName=DNS:www.example.com')),
      /subjectAltName/,
    );
    assert.throws(
      () => checkIntermediateCsr(csr(subject, '-addext', 'keyUsage=critical,keyCertSign,keyEncipherment')),
      /keyUsage keyEncipherment/,
    );
    assert.throws(
      () => checkIntermediateCsr(csr(subject, '-addext', 'extendedKeyUsage=anyExtendedKeyUsage')),
      /extendedKeyUsage/,
    );
    assert.throws(() => checkIntermediateCsr(csr('/O=Example Corp/CN=No Country CA')), /C missing/);
    openssl.run(['genpkey', '-algorithm', 'ED25519', '-out', 'ed.key']);
    const ed = openssl.text(['req', '-new', '-key', 'ed.key', '-subj', subject]);
    assert.throws(() => checkIntermediateCsr(ed), /allow RSA and ECDSA/);
  });

  it('accepts a CSR that asks for CA:TRUE and the CA key usages', () => {
    const request = checkIntermediateCsr(
      csr(
        '/C=DE/O=Example Corp/CN=Example Issuing CA 2',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ),
    );
    assert.equal(request.subject.find((a) => a.key === 'CN')?.value, 'Example Issuing CA 2');
  });
});
