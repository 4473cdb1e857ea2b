// How long an operator restart takes to resync N ManagedKeys that already exist, against a baseline measured in the
// same run: one plain list of the same N objects from the API server (the least any restart must do).
// Also counts the API writes the resync makes (a steady state should make none).
//
//   npm run bench -- [N]        (default 500)
import { randomBytes } from 'node:crypto';
import { HttpMethod } from '@kubernetes/client-node';
import { clientFor } from '../test/fixtures/runtime-env.ts';
import { managedKeyType } from '../src/controllers/managedkey/controller.ts';
import { eventually, startTestOperator } from '../test/support/operator.ts';
import { managedKeyManifest, setUpSoftHsmBackend } from '../test/support/keyward.ts';
import type { ManagedKeyObject } from '../src/api/v1alpha1/index.ts';

const N = Number(process.argv[2] ?? 500);
const RUN = randomBytes(3).toString('hex');
const namespace = `bench-${RUN}`;
const backend = `bench-${RUN}`;

const setup = await setUpSoftHsmBackend(backend, { namespace });
const { client } = setup;
const seconds = (since: number): string => ((performance.now() - since) / 1000).toFixed(2);
/** Versions checked against the token so far: each key's first reconcile after a start observes its version. */
const verified = async (operator: Awaited<ReturnType<typeof startTestOperator>>): Promise<number> => {
  const { body } = await operator.manager.metrics.exposition();
  const pattern =
    /^keyward_backend_request_duration_seconds_count\{[^}]*operation="observe",outcome="success"\} (\d+)/m;
  return Number(pattern.exec(body)?.[1] ?? 0);
};

// The restarted operator's own client, counting what it writes.
let written = 0;
const countingClient = clientFor(setup.kubeconfigPath, {
  onResponse: (method) => {
    if (method !== HttpMethod.GET) written++;
  },
});

let started = performance.now();
// Scoped to the benchmark's namespace: objects other runs left behind must not count.
let operator = await startTestOperator(client, namespace);
for (let i = 0; i < N; i++) {
  await client.create(
    managedKeyType,
    managedKeyManifest(`key-${i}`, namespace, { backendRef: { name: backend } }),
  );
}
await eventually(
  `${N} keys Active`,
  async () => {
    const { items } = await client.list<ManagedKeyObject>(managedKeyType, { namespace });
    return items.filter((k) => k.status?.phase === 'Active').length === N ? true : undefined;
  },
  N * 1_000,
);
console.log(`generate ${N} keys (create, generate in SoftHSM2, record): ${seconds(started)} s`);
await operator.stop();

started = performance.now();
await client.list(managedKeyType, { namespace });
const baseline = (performance.now() - started) / 1000;

started = performance.now();
operator = await startTestOperator(countingClient, namespace);
await eventually('every key verified after the restart', async () =>
  (await verified(operator)) >= N ? true : undefined,
);
const resync = (performance.now() - started) / 1000;
const restartWrites = written;
await operator.stop();
await setup.cleanup();

console.log(`baseline: one list of ${N} ManagedKeys: ${baseline.toFixed(3)} s`);
console.log(`restart to every key verified in the token: ${resync.toFixed(2)} s`);
console.log(
  `ratio resync / list: ${(resync / baseline).toFixed(1)}; per key: ${((resync / N) * 1000).toFixed(2)} ms`,
);
console.log(`API writes by the restarted operator until every key was verified: ${restartWrites}`);
process.exit(0);
