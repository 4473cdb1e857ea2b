import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pkcs11Uri } from '../../../../src/backends/pkcs11/uri.ts';

describe('pkcs11 URI', () => {
  it('writes token, serial, object, id and type; ids fully percent-encoded', () => {
    assert.equal(
      pkcs11Uri({
        token: 'keyward-dev',
        serial: 'be022ce7f6cce97a',
        object: 'payments/signing/v3',
        id: Buffer.from([0x8a, 0x12, 0x00, 0x41]),
        type: 'private',
      }),
      'pkcs11:token=keyward-dev;serial=be022ce7f6cce97a;object=payments%2Fsigning%2Fv3;id=%8A%12%00%41;type=private',
    );
  });

  it('percent-encodes the characters that would end or split the path, and non-ASCII', () => {
    const uri = pkcs11Uri({
      token: 'a;b?c/d e&f',
      serial: '',
      object: 'ä%',
      id: Buffer.alloc(0),
      type: 'secret',
    });
    assert.equal(uri, 'pkcs11:token=a%3Bb%3Fc%2Fd%20e%26f;serial=;object=%C3%A4%25;id=;type=secret-key');
  });

  it('keeps the path characters RFC 7512 allows literally', () => {
    const uri = pkcs11Uri({
      token: "A-z_0.9~:[]@!$'()*+,=",
      serial: '1',
      object: 'o',
      id: Buffer.alloc(0),
      type: 'public',
    });
    assert.ok(uri.startsWith("pkcs11:token=A-z_0.9~:[]@!$'()*+,=;serial=1;"));
  });
});
