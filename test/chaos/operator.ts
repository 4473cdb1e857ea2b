// The operator exactly as src/main.ts runs it, with its clock KEYWARD_CHAOS_CLOCK_OFFSET_MS ahead of the system's:
// a chaos trial restarts it a destroy window (24 h at least) after a deletion without waiting a day.
import { controllerFactories } from '../../src/controllers/registry.ts';
import { runOperator } from '../../src/runtime/operator.ts';

const offsetMs = Number(process.env['KEYWARD_CHAOS_CLOCK_OFFSET_MS'] ?? '0');
process.exit(
  await runOperator({
    argv: process.argv.slice(2),
    controllers: controllerFactories,
    clock: { now: () => Date.now() + offsetMs },
  }),
);
