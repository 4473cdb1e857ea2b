// The chaos runner: `npm run test:chaos -- --trials N --seed S [--scenario NAME]`. Trial i of a run has seed S + i;
// its PRNG picks the scenario (unless --scenario names one) and every fault moment, so `--seed <trial seed>
// --trials 1` replays a trial. After each trial the invariants (./invariants.ts) are checked on the settled world;
// the run exits 1 if any trial broke one. KEYWARD_CHAOS_VERBOSE=1 prints each trial's story as it happens.
import { parseArgs } from 'node:util';
import { checkInvariants } from './invariants.ts';
import type { Violation } from './invariants.ts';
import { SCENARIOS } from './scenarios/index.ts';
import { Trial } from './trial.ts';
import { World } from './world.ts';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '8' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    scenario: { type: 'string', multiple: true },
  },
});
const trials = Number(values.trials);
const firstSeed = Number(values.seed);
if (!Number.isSafeInteger(trials) || trials < 1 || !Number.isSafeInteger(firstSeed) || firstSeed < 0) {
  process.stderr.write('usage: npm run test:chaos -- --trials N --seed S [--scenario NAME ...]\n');
  process.exit(2);
}
const pool = values.scenario ? SCENARIOS.filter((s) => values.scenario?.includes(s.name)) : SCENARIOS;
if (pool.length === 0) {
  process.stderr.write(`no such scenario; scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}\n`);
  process.exit(2);
}
const only = values.scenario ? values.scenario.map((s) => ` --scenario ${s}`).join('') : '';

const world = await World.open();
const failures: { seed: number; scenario: string; violations: readonly Violation[]; error?: string }[] = [];
const startedAt = performance.now();
process.stdout.write(`chaos: ${trials} trials from seed ${firstSeed}\n`);
for (let i = 0; i < trials; i++) {
  const seed = firstSeed + i;
  const trial = new Trial(seed, world.client, world.kubeconfig);
  const scenario = trial.prng.pick(pool);
  const trialStart = performance.now();
  process.stdout.write(`trial ${i + 1}/${trials} seed ${seed} ${scenario.name}: ${scenario.summary}\n`);
  let violations: Violation[] = [];
  let error: string | undefined;
  try {
    await scenario.run(trial, world);
    const snapshot = await trial.settle();
    violations = checkInvariants(snapshot);
    trial.note(
      `settled: ${snapshot.keys.length} keys, ${snapshot.objects.length} backend versions, ${snapshot.disappearances.length} destroyed, ${snapshot.transcripts.length} transcripts`,
    );
  } catch (err) {
    error = err instanceof Error ? (err.stack ?? err.message) : String(err);
  }
  await trial.close().catch((err: unknown) => {
    error ??= `cleanup failed: ${String(err)}`;
  });
  const seconds = ((performance.now() - trialStart) / 1000).toFixed(1);
  if (violations.length === 0 && error === undefined) {
    process.stdout.write(`  ok in ${seconds}s (${trial.story.at(-1) ?? ''})\n`);
    continue;
  }
  failures.push({ seed, scenario: scenario.name, violations, ...(error ? { error } : {}) });
  process.stdout.write(
    `  FAILED in ${seconds}s; replay: npm run test:chaos -- --seed ${seed} --trials 1${only}\n`,
  );
  for (const v of violations) process.stdout.write(`  violation ${v.invariant}: ${v.message}\n`);
  if (error) process.stdout.write(`  error: ${error}\n`);
  process.stdout.write(`  what happened:\n${trial.story.map((line) => `    ${line}`).join('\n')}\n`);
  const warnings = trial.operatorWarnings();
  if (warnings.length > 0)
    process.stdout.write(`  operators' last warnings:\n${warnings.map((l) => `    ${l}`).join('\n')}\n`);
}
await world.close();
const total = ((performance.now() - startedAt) / 1000).toFixed(0);
process.stdout.write(
  failures.length === 0
    ? `chaos: ${trials} trials passed in ${total}s (seeds ${firstSeed}..${firstSeed + trials - 1})\n`
    : `chaos: ${failures.length} of ${trials} trials failed in ${total}s: seeds ${failures.map((f) => `${f.seed} (${f.scenario})`).join(', ')}\n`,
);
process.exit(failures.length === 0 ? 0 : 1);
