// The cloud SDKs are loaded only once a KeyBackend of their kind is used: an operator with PKCS#11 backends alone
// never pays their memory and start-up time (bench/results/2026-12-02-notes.md).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

const srcRoot = new URL('../../../src/', import.meta.url).href;

/** The SDK packages loaded by a process that loads the operator's code and then asks for `spec`'s credentials. */
function sdksLoadedAfter(spec: object): string[] {
  const script = `
    import { registerHooks } from 'node:module';
    const loaded = new Set();
    registerHooks({
      resolve(specifier, context, next) {
        const resolved = next(specifier, context);
        const match = /node_modules\\/(@aws-sdk|@azure|@google-cloud|google-gax)\\//.exec(resolved.url);
        if (match) loaded.add(match[1]);
        return resolved;
      },
    });
    await import(${JSON.stringify(`${srcRoot}controllers/registry.ts`)});
    await import(${JSON.stringify(`${srcRoot}runtime/operator.ts`)});
    const { credentialReferences } = await import(${JSON.stringify(`${srcRoot}backends/registry.ts`)});
    await credentialReferences(${JSON.stringify(spec)});
    process.stdout.write(JSON.stringify([...loaded].sort()));
  `;
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(output) as string[];
}

test('the operator with a PKCS#11 KeyBackend loads none of the cloud SDKs', () => {
  const pkcs11 = { modulePath: '/usr/lib/softhsm/libsofthsm2.so', token: { label: 't' } };
  assert.deepEqual(sdksLoadedAfter({ pkcs11: { ...pkcs11, pinSecretRef: { name: 'pin', key: 'pin' } } }), []);
});

test('a Cloud KMS KeyBackend loads the Google SDK, and only it', () => {
  assert.deepEqual(sdksLoadedAfter({ gcpKMS: { project: 'p', location: 'l', keyRing: 'r' } }), [
    '@google-cloud',
    'google-gax',
  ]);
});
