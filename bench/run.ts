// Keyward's scale benchmark (issue 15). Not part of the test suite:
//
//   KEYWARD_TESTENV_DIR=... npm run testenv:up
//   npm run bench -- [--keys N] [--quiet-seconds S] [--out DIR] [--profile-dir DIR] [--operator dist|source]
//                    [--operator-arg=--flag ...]
//
// Against the real control plane and a SoftHSM2 token, with the operator as a real child process (dist/main.js, or
// src/main.ts with --operator source),
// and baselines measured in the same run: raw generation through pkcs11js on a token of the same size, and one
// plain list of the N ManagedKeys. Writes bench/results/<date>.md and bench/results/latest.json.

import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ManagedKeyObject } from '../src/api/v1alpha1/index.ts';
import { managedKeyType } from '../src/controllers/managedkey/controller.ts';
import { keyBackendType } from '../src/controllers/keybackend/controller.ts';
import { KubeApiError } from '../src/kube/errors.ts';
import type { KubeObject } from '../src/kube/object.ts';
import { clientFor } from '../test/fixtures/runtime-env.ts';
import { managedKeyManifest, setUpSoftHsmBackend } from '../test/support/keyward.ts';
import { SoftHsm } from '../test/support/softhsm.ts';
import { ApiServerMetrics, controlPlaneCpuSeconds, countsSince } from './apiserver.ts';
import {
  type BenchOperator,
  type OperatorBuild,
  operatorEntryPoint,
  startBenchOperator,
} from './operator.ts';
import { bucketDelta, buckets, quantile, sum, type Sample } from './prometheus.ts';
import { RawToken } from './raw-generation.ts';
import { type Results, writeResults } from './results.ts';
import { KeyTracker } from './tracker.ts';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000' },
    'quiet-seconds': { type: 'string', default: '30' },
    out: { type: 'string', default: new URL('results/', import.meta.url).pathname },
    'operator-arg': { type: 'string', multiple: true, default: [] },
    /** dist: the compiled JavaScript the image runs (built first); source: src/main.ts, types stripped by Node. */
    operator: { type: 'string', default: 'dist' },
    /** Writes the operators' CPU profiles (--cpu-prof) and a heap snapshot of each before it stops. */
    'profile-dir': { type: 'string' },
  },
});
const N = Number(values.keys);
const QUIET_SECONDS = Number(values['quiet-seconds']);
if (!Number.isSafeInteger(N) || N < 1)
  throw new Error(`--keys must be a positive integer, got ${values.keys}`);
if (values.operator !== 'dist' && values.operator !== 'source')
  throw new Error(`--operator must be dist or source, got ${values.operator}`);
const operatorBuild: OperatorBuild = values.operator;
const operatorScript = operatorEntryPoint(operatorBuild);
mkdirSync(values.out, { recursive: true });
/** The machine is shared: its 1, 5 and 15 minute load averages at the end of each phase. */
const loadAverages: Record<string, number[]> = {};
const recordLoad = (phase: string): void => {
  loadAverages[phase] = loadavg().map((l) => Math.round(l * 100) / 100);
};
/** Generations in flight: the backend's default session pool (maxSessions 4), the most the operator has at once. */
const PARALLEL = 4;
/** Client requests the benchmark keeps in flight while applying N objects "at once". */
const APPLY_PARALLEL = 32;
const RSA_SAMPLE = Math.min(N, 100);
const BLOCK = Math.max(50, Math.round(N / 10));
const TIMEOUT_MS = Math.max(600_000, N * 300);

const log = (line: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};
const since = (started: number): number => (performance.now() - started) / 1000;
/** This process's resident memory outside the JavaScript heap, in MiB. */
const nativeMemoryMb = (): number => {
  const { rss, heapTotal } = process.memoryUsage();
  return (rss - heapTotal) / 2 ** 20;
};

/**
 * Retries what an overloaded control plane refuses (429, 5xx: etcd timing out on a busy 2-core machine); a create
 * whose first try went through despite the error finds its object already there (409), which counts as done.
 */
async function persist(fn: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await fn();
      return;
    } catch (error) {
      if (error instanceof KubeApiError && error.statusCode === 409 && attempt > 1) return;
      // A pooled connection the API server closed while it sat idle (the quiet period) fails with ECONNRESET.
      const transient =
        (error instanceof KubeApiError && (error.statusCode === 429 || error.statusCode >= 500)) ||
        (error instanceof Error && 'code' in error && error.code === 'ECONNRESET');
      if (!transient || attempt >= 10) throw error;
      log(`retrying after ${error.message}`);
      await sleep(1_000);
    }
  }
}

async function inParallel(
  count: number,
  parallel: number,
  fn: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        const i = next++;
        await persist(() => fn(i));
      }
    }),
  );
}

// 1. Raw generation through pkcs11js on a token of its own: N EC P-256 keys (the creation baseline, the token
// filling from 0 to N keys), N more (the rotation baseline, N to 2N, as the operator's token does in the wave), and
// an RSA-2048 sample at both ends.
log(`raw generation baseline: ${N} + ${N} EC_P256, ${RSA_SAMPLE} + ${RSA_SAMPLE} RSA_2048`);
const rawHsm = SoftHsm.create();
// SoftHSM keeps every object of a token in the memory of the process that loaded it (the operator's, in production
// a real HSM's client library): measured here on the raw token, outside the JavaScript heap.
const nativeBefore = nativeMemoryMb();
const raw = RawToken.open(rawHsm.initToken('bench-raw'), PARALLEL);
const rawRsaEmpty = await raw.generate('RSA_2048', RSA_SAMPLE, RSA_SAMPLE);
const rawCreate = await raw.generate('EC_P256', N, BLOCK);
const rawRotate = await raw.generate('EC_P256', N, BLOCK);
const rawRsaFull = await raw.generate('RSA_2048', RSA_SAMPLE, RSA_SAMPLE);
const softHsmMemory = { objects: 2 * (2 * N + 2 * RSA_SAMPLE), mb: nativeMemoryMb() - nativeBefore };
raw.close();
rawHsm.cleanup();
recordLoad('raw generation');
log(
  `raw EC_P256: ${rawCreate.seconds.toFixed(1)} s for keys 0..${N}, ${rawRotate.seconds.toFixed(1)} s for ${N}..${2 * N}`,
);

// 2. The operator's token, namespace and KeyBackend.
const RUN = randomBytes(3).toString('hex');
const namespace = `bench-${RUN}`;
const backend = `bench-${RUN}`;
const setup = await setUpSoftHsmBackend(backend, { namespace });
const apiServer = new ApiServerMetrics(setup.kubeconfigPath);
let ownRequests = 0;
const client = clientFor(setup.kubeconfigPath, {
  onResponse: () => {
    ownRequests++;
  },
});
const operatorArgs = values['operator-arg'];
const profileDir = values['profile-dir'];
if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
const peaks: number[] = [];
/** Where each operator's memory was just before it stopped (its own process metrics), MB. */
const memoryAtStop: Record<string, number>[] = [];
const MEMORY_METRICS = {
  rss: 'process_resident_memory_bytes',
  heapTotal: 'nodejs_heap_size_total_bytes',
  heapUsed: 'nodejs_heap_size_used_bytes',
  external: 'nodejs_external_memory_bytes',
};

async function waitForBackendReady(): Promise<void> {
  for (;;) {
    const kb = await setup.client.get<
      KubeObject & { status?: { conditions?: { type: string; status: string }[] } }
    >(keyBackendType, backend);
    if (kb.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return;
    await sleep(200);
  }
}

const reconcileBuckets = (samples: Sample[]): Map<number, number> =>
  buckets(samples, 'controller_runtime_reconcile_time_seconds', (l) => l.controller === 'managedkey');
const observed = (samples: Sample[]): number =>
  sum(
    samples,
    'keyward_backend_request_duration_seconds_count',
    (l) => l.operation === 'observe' && l.outcome === 'success',
  );

/** Log lines that mark the steps of an operator's start, in order ('synced': the last informer to sync). */
const RESYNC_STEPS = [
  'operator started',
  'acquired the lease; leading',
  'synced',
  'connecting to the backend',
  'starting workers',
];

/** The operator's own CPU time (user + system) so far: on a shared machine, its share of the cores bounds it. */
const cpuSeconds = (samples: Sample[]): number => sum(samples, 'process_cpu_seconds_total');

async function stopOperator(operator: BenchOperator): Promise<void> {
  peaks.push(operator.peakRssMb());
  const samples = await operator.metrics();
  memoryAtStop.push(
    Object.fromEntries(
      Object.entries(MEMORY_METRICS).map(([what, name]) => [what, Math.round(sum(samples, name) / 1e5) / 10]),
    ),
  );
  await operator.stop();
}

// 3. Creation: N ManagedKeys applied at once, until every one is Ready.
let operator = await startBenchOperator(
  'operator-1',
  setup.kubeconfigPath,
  namespace,
  operatorArgs,
  operatorScript,
  join(values.out, 'operator-1.log'),
  profileDir,
);
await waitForBackendReady();
const tracker = new KeyTracker();
tracker.start(client, namespace);
await sleep(500);
let samplesBefore = await operator.metrics();
const reconcileBefore = reconcileBuckets(samplesBefore);
let cpuBefore = cpuSeconds(samplesBefore);
let controlPlaneCpuBefore = controlPlaneCpuSeconds();
let countsBefore = await apiServer.counts();
let ownBefore = ownRequests;
log(`creating ${N} ManagedKeys`);
let started = performance.now();
await inParallel(N, APPLY_PARALLEL, (i) =>
  client.create(
    managedKeyType,
    managedKeyManifest(`key-${i}`, namespace, {
      backendRef: { name: backend },
      rotation: { period: '8760h', retainVersions: 2 },
    }),
  ),
);
const appliedSeconds = since(started);
await tracker.until('keys Ready', N, (s) => s.ready && s.currentVersion === 1, TIMEOUT_MS);
const createSeconds = since(started);
const createCounts = countsSince(await apiServer.counts(), countsBefore);
// The benchmark's own requests (its creates; the scrape of /metrics itself) are not the operator's.
const operatorRequests = createCounts.total - (ownRequests - ownBefore) - 1;
let samplesAfter = await operator.metrics();
const reconcileCreate = bucketDelta(reconcileBuckets(samplesAfter), reconcileBefore);
const createCpuSeconds = cpuSeconds(samplesAfter) - cpuBefore;
const createControlPlaneCpuSeconds = controlPlaneCpuSeconds() - controlPlaneCpuBefore;
recordLoad('creation');
log(`all ${N} Ready after ${createSeconds.toFixed(1)} s (applied in ${appliedSeconds.toFixed(1)} s)`);

// 4. Quiet period: nothing changes, so nothing should be written.
countsBefore = await apiServer.counts();
await sleep(QUIET_SECONDS * 1000);
const steadyStateWrites = countsSince(await apiServer.counts(), countsBefore).keywardWrites;
log(`writes to keyward.io objects over ${QUIET_SECONDS} s of quiet: ${steadyStateWrites}`);
await stopOperator(operator);

// 5. Restart resync against one plain list of the N objects.
let listed: { items: ManagedKeyObject[] } = { items: [] };
let listSeconds = 0;
await persist(async () => {
  started = performance.now();
  listed = await client.list<ManagedKeyObject>(managedKeyType, { namespace });
  listSeconds = since(started);
});
if (listed.items.length !== N) throw new Error(`listed ${listed.items.length} ManagedKeys, expected ${N}`);
countsBefore = await apiServer.counts();
started = performance.now();
const spawnedAt = Date.now();
operator = await startBenchOperator(
  'operator-2',
  setup.kubeconfigPath,
  namespace,
  operatorArgs,
  operatorScript,
  join(values.out, 'operator-2.log'),
  profileDir,
);
const metricsUpSeconds = since(started);
// Scraped every 250 ms: with per-key metrics a scrape at 10,000 keys is itself work for the operator.
let resyncScrapes = 0;
for (; ; resyncScrapes++) {
  if (observed(await operator.metrics()) >= N) break;
  await sleep(250);
}
const resyncSeconds = since(started);
const resyncWrites = countsSince(await apiServer.counts(), countsBefore).keywardWrites;
recordLoad('resync');
const workersLine = operator.process.logs.find(
  (l) => l.msg === 'starting workers' && l.controller === 'managedkey',
);
/** Seconds from spawn to each step of the restarted operator's start (the last line of each, from its logs). */
const resyncTimeline = Object.fromEntries(
  RESYNC_STEPS.flatMap((msg) => {
    const ts = operator.process.logs.findLast((l) => l.msg === msg)?.ts;
    return typeof ts === 'string' ? [[msg, (Date.parse(ts) - spawnedAt) / 1000]] : [];
  }),
);
log(`resync: every key observed ${resyncSeconds.toFixed(2)} s after the restart; ${resyncWrites} writes`);
await sleep(5_000);
const resyncWritesSettled = countsSince(await apiServer.counts(), countsBefore).keywardWrites;

// 6. Rotation wave: the trigger changed on all N at once.
samplesBefore = await operator.metrics();
const resyncCpuSeconds = cpuSeconds(samplesBefore);
const reconcileBeforeWave = reconcileBuckets(samplesBefore);
cpuBefore = cpuSeconds(samplesBefore);
controlPlaneCpuBefore = controlPlaneCpuSeconds();
countsBefore = await apiServer.counts();
ownBefore = ownRequests;
log(`rotation wave of ${N} keys`);
started = performance.now();
await inParallel(N, APPLY_PARALLEL, (i) =>
  client.patch(managedKeyType, `key-${i}`, namespace, 'merge', { spec: { rotation: { trigger: 'wave-1' } } }),
);
await tracker.until(
  'keys rotated',
  N,
  (s) => s.ready && s.currentVersion === 2 && s.lastRotationTrigger === 'wave-1',
  TIMEOUT_MS,
);
const rotationWaveSeconds = since(started);
const waveCounts = countsSince(await apiServer.counts(), countsBefore);
const waveOperatorRequests = waveCounts.total - (ownRequests - ownBefore) - 1;
samplesAfter = await operator.metrics();
const reconcileWave = bucketDelta(reconcileBuckets(samplesAfter), reconcileBeforeWave);
const waveCpuSeconds = cpuSeconds(samplesAfter) - cpuBefore;
const waveControlPlaneCpuSeconds = controlPlaneCpuSeconds() - controlPlaneCpuBefore;
recordLoad('rotation wave');
log(`rotation wave done after ${rotationWaveSeconds.toFixed(1)} s`);
await stopOperator(operator);
tracker.stop();

// The namespace and its N keys stay (deleting them means N more destroys): run on a control plane of its own
// and take it down afterwards. The token goes.
setup.softhsm.cleanup();

const ms = (seconds: number | undefined): number | undefined =>
  seconds === undefined ? undefined : Math.round(seconds * 10_000) / 10;
const results: Results = {
  keys: N,
  createSeconds,
  rawCreateSeconds: rawCreate.seconds,
  createOverheadRatio: createSeconds / rawCreate.seconds,
  appliedSeconds,
  listSeconds,
  resyncSeconds,
  resyncRatio: resyncSeconds / listSeconds,
  resyncMetricsUpSeconds: metricsUpSeconds,
  resyncWorkersStarted: workersLine !== undefined,
  resyncWrites,
  resyncWritesSettled,
  resyncScrapes,
  resyncTimeline,
  steadyStateWrites,
  quietSeconds: QUIET_SECONDS,
  peakRssMb: Math.max(...peaks),
  peakRssMbByProcess: peaks,
  memoryAtStop,
  operatorCpuSeconds: { creation: createCpuSeconds, resync: resyncCpuSeconds, rotationWave: waveCpuSeconds },
  controlPlaneCpuSeconds: {
    creation: createControlPlaneCpuSeconds,
    rotationWave: waveControlPlaneCpuSeconds,
  },
  softHsmMemory,
  reconcileP50Ms: ms(quantile(0.5, reconcileCreate)),
  reconcileP99Ms: ms(quantile(0.99, reconcileCreate)),
  reconcileWaveP50Ms: ms(quantile(0.5, reconcileWave)),
  reconcileWaveP99Ms: ms(quantile(0.99, reconcileWave)),
  rotationWaveSeconds,
  rawRotationSeconds: rawRotate.seconds,
  rotationRatio: rotationWaveSeconds / rawRotate.seconds,
  apiRequestsPerKey: operatorRequests / N,
  apiRequestsPerKeyRotation: waveOperatorRequests / N,
  raw: { rawCreate, rawRotate, rawRsaEmpty, rawRsaFull },
  operatorArgs,
  operatorBuild,
  loadAverages,
};
const written = writeResults(values.out, results);
log(`results: ${written.join(', ')}`);
process.exit(0);
