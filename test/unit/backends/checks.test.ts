import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { BackendCapabilities } from '../../../src/backends/backend.ts';
import { CheckReason, KEY_SPEC_CHECKS, assertSignInput, firstProblem } from '../../../src/backends/checks.ts';
import { UnsupportedError } from '../../../src/backends/errors.ts';

const capabilities: BackendCapabilities = {
  algorithms: ['EC_P256', 'RSA_2048'],
  nativeRotation: [],
  versions: false,
  archival: 'usages',
  minDestroyDelaySeconds: 0,
  restorable: false,
  lookupBy: 'attributes',
  recoveryWrap: false,
};
const where = 'token "t"';

describe('the checks every backend runs', () => {
  it('names the first problem of a key spec, in the chain order', () => {
    const problem = (algorithm: 'EC_P256' | 'EC_P521', usages: ('sign' | 'encrypt')[]) =>
      firstProblem({ spec: { algorithm, usages }, capabilities, where }, KEY_SPEC_CHECKS);
    assert.equal(problem('EC_P256', ['sign']), undefined);
    assert.deepEqual(problem('EC_P521', ['encrypt']), {
      reason: CheckReason.AlgorithmNotOffered,
      message: 'token "t" does not offer EC_P521 keys; it offers EC_P256, RSA_2048',
    });
    assert.equal(problem('EC_P256', [])?.reason, CheckReason.NoUsages);
    assert.deepEqual(problem('EC_P256', ['sign', 'encrypt']), {
      reason: CheckReason.UsageNotAllowed,
      message: 'EC_P256 keys cannot encrypt',
    });
  });

  it('lets a key sign a digest of its own hash only, and Ed25519 and HMAC messages only', () => {
    const sha = (name: string) => createHash(name).update('m').digest();
    assertSignInput('EC_P384', { digest: sha('sha384'), hash: 'sha384' });
    assertSignInput('ED25519', { message: Buffer.from('m') });
    const refused = (run: () => void, reason: string) => {
      assert.throws(run, (error: unknown) => error instanceof UnsupportedError && error.cause === reason);
    };
    refused(() => {
      assertSignInput('EC_P384', { digest: sha('sha256'), hash: 'sha256' });
    }, CheckReason.DigestMismatch);
    refused(() => {
      assertSignInput('EC_P256', { digest: Buffer.alloc(20), hash: 'sha256' });
    }, CheckReason.DigestLength);
    refused(() => {
      assertSignInput('ED25519', { digest: sha('sha256'), hash: 'sha256' });
    }, CheckReason.DigestNotSupported);
    refused(() => {
      assertSignInput('HMAC_SHA256', { digest: sha('sha256'), hash: 'sha256' });
    }, CheckReason.DigestNotSupported);
    refused(() => {
      assertSignInput('AES_256', { message: Buffer.from('m') });
    }, CheckReason.NotASigningKey);
  });
});
