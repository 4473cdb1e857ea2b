// Run as a child process by the GCP crash test: opens the backend on the peer and creates one key version, so that
// the test can kill -9 it while the create call is in flight. Argument: JSON { spec, identity, keySpec }.

import type { GcpKmsBackend as GcpKmsSpec } from '../../src/api/v1alpha1/keybackend.ts';
import type { KeySpec } from '../../src/backends/backend.ts';
import { gcpKmsFactory } from '../../src/backends/gcp-kms/factory.ts';
import type { KeyIdentity } from '../../src/backends/identity.ts';

const { spec, identity, keySpec } = JSON.parse(process.argv[2] ?? '{}') as {
  spec: GcpKmsSpec;
  identity: KeyIdentity;
  keySpec: KeySpec;
};
const backend = await gcpKmsFactory.open(spec, new Map());
process.stdout.write('opened\n');
const result = await backend.create(identity, keySpec);
process.stdout.write(`${JSON.stringify(result)}\n`);
await backend.close();
