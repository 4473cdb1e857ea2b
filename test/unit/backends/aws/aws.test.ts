import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toBackendError } from '../../../../src/backends/aws/errors.ts';
import { parseSharedCredentials } from '../../../../src/backends/aws/shared-credentials.ts';
import { currentAlias, parseVersionAlias, versionAlias } from '../../../../src/backends/aws-kms/naming.ts';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

describe('shared credentials file', () => {
  test('the default profile, with a session token', () => {
    const file = `# comment\n[other]\naws_access_key_id=AKIAOTHER\naws_secret_access_key=x\n\n[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = ${SECRET}\naws_session_token = token\n`;
    assert.deepEqual(parseSharedCredentials(Buffer.from(file)), {
      accessKeyId: 'AKIADEFAULT',
      secretAccessKey: SECRET,
      sessionToken: 'token',
    });
  });

  test('the only profile when there is no default', () => {
    const file = `[profile ci]\r\naws_access_key_id=AKIACI\r\naws_secret_access_key=${SECRET}\r\n`;
    assert.equal(parseSharedCredentials(Buffer.from(file)).accessKeyId, 'AKIACI');
  });

  test('problems are named without echoing what the Secret holds', () => {
    const cases = [
      `aws_secret_access_key=${SECRET}`,
      `[a]\naws_secret_access_key=${SECRET}\n[b]\naws_access_key_id=x`,
      `[default]\naws_secret_access_key=${SECRET}`,
      '',
    ];
    for (const file of cases) {
      assert.throws(
        () => parseSharedCredentials(Buffer.from(file)),
        (error: Error & { code?: string }) =>
          error.code === 'Misconfigured' && !error.message.includes(SECRET),
      );
    }
  });
});

describe('AWS errors', () => {
  const sdkError = (name: string, status: number, message: string) =>
    Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });

  test('authentication and authorization failures drop the AWS message', () => {
    const error = toBackendError(
      'KMS Sign',
      sdkError('UnrecognizedClientException', 400, `key ${SECRET} invalid`),
    );
    assert.equal(error.code, 'PermissionDenied');
    assert.ok(!error.message.includes(SECRET));
    assert.equal(error.cause, undefined);
    assert.equal(toBackendError('KMS Sign', sdkError('Whatever', 403, SECRET)).code, 'PermissionDenied');
  });

  test('throttling, 5xx and network errors are Retryable; a missing key is NotFound', () => {
    assert.equal(toBackendError('x', sdkError('ThrottlingException', 400, 'slow down')).code, 'Retryable');
    assert.equal(toBackendError('x', sdkError('InternalFailure', 503, 'busy')).code, 'Retryable');
    assert.equal(
      toBackendError('x', Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })).code,
      'Retryable',
    );
    assert.equal(toBackendError('x', sdkError('NotFoundException', 400, 'no key')).code, 'NotFound');
    assert.equal(toBackendError('x', sdkError('AbortError', 0, 'aborted')).code, 'Retryable');
  });
});

describe('KMS aliases', () => {
  test('a version alias names its uid and version, and nothing else parses as one', () => {
    const alias = versionAlias({ uid: '6f1c6b0e-8f1e-4d0a-9c53-2f0c1f0e5a11', version: 12 });
    assert.equal(alias, 'alias/keyward/uid/6f1c6b0e-8f1e-4d0a-9c53-2f0c1f0e5a11/v12');
    assert.deepEqual(parseVersionAlias(alias), { uid: '6f1c6b0e-8f1e-4d0a-9c53-2f0c1f0e5a11', version: 12 });
    assert.equal(parseVersionAlias('alias/keyward/payments/signing'), undefined);
    assert.equal(parseVersionAlias('alias/keyward/uid/x/v0'), undefined);
  });

  test('the current alias keeps to the characters and length KMS allows', () => {
    assert.equal(
      currentAlias({ namespace: 'payments', name: 'jwt.signing' }),
      'alias/keyward/payments/jwt_signing',
    );
    const long = currentAlias({ namespace: 'n'.repeat(63), name: 'a'.repeat(253) });
    assert.equal(long.length, 256);
    assert.match(long, /^alias\/keyward\/n+\/a+-[0-9a-f]{16}$/);
    assert.notEqual(long, currentAlias({ namespace: 'n'.repeat(63), name: `${'a'.repeat(252)}b` }));
  });
});
