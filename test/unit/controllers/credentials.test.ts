import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readCredentials } from '../../../src/controllers/keybackend/credentials.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import { KubeApiError } from '../../../src/kube/errors.ts';

/** A client whose Secret reads answer as given (the only call readCredentials makes). */
function client(answer: (name: string) => unknown): KubeClient {
  return {
    get: (_resource: unknown, name: string) => {
      const result = answer(name);
      return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
    },
  } as unknown as KubeClient;
}

const secret = (data: Record<string, string>, resourceVersion = '7') => ({
  metadata: { resourceVersion },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
});

describe('reading the Secrets a backend needs', () => {
  it('gives every named value as a Buffer, with a version that changes with any of the Secrets', async () => {
    const read = await readCredentials(
      client((name) => (name === 'a' ? secret({ pin: '1234' }, '5') : secret({ creds: 'x' }, '9'))),
      { pin: { namespace: 'n', name: 'a', key: 'pin' }, aws: { namespace: 'n', name: 'b', key: 'creds' } },
    );
    assert.ok('credentials' in read);
    assert.deepEqual(read.credentials.get('pin'), Buffer.from('1234'));
    assert.equal(read.version, '5,9');
  });

  it('says SecretUnreadable when RBAC forbids the read', async () => {
    const first = secret({ pin: '1234' });
    const read = await readCredentials(
      client((name) => (name === 'a' ? first : new KubeApiError(403, 'secrets "b" is forbidden'))),
      { pin: { namespace: 'n', name: 'a', key: 'pin' }, aws: { namespace: 'n', name: 'b', key: 'creds' } },
    );
    assert.ok('unavailable' in read);
    assert.equal(read.unavailable.reason, 'SecretUnreadable');
    assert.match(read.unavailable.message, /may not read Secret n\/b \(403 Forbidden\)/);
    assert.equal(read.unavailable.transient, false);
  });

  it('names a missing Secret and a missing key, never a value', async () => {
    const missing = await readCredentials(
      client(() => new KubeApiError(404, 'not found')),
      {
        pin: { namespace: 'n', name: 'a', key: 'pin' },
      },
    );
    assert.ok('unavailable' in missing);
    assert.equal(missing.unavailable.reason, 'SecretNotFound');
    const noKey = await readCredentials(
      client(() => secret({ other: 'hunter2' })),
      {
        pin: { namespace: 'n', name: 'a', key: 'pin' },
      },
    );
    assert.ok('unavailable' in noKey);
    assert.equal(noKey.unavailable.reason, 'SecretKeyNotFound');
    assert.doesNotMatch(noKey.unavailable.message, /hunter2/);
  });
});
