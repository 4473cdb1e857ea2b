// SIGKILL during generation: one to three ManagedKeys created, the operator killed at `managedkey-after-generate`
// (generated, not yet recorded) or after a random delay; the next operator must adopt, not generate again.
import type { Scenario } from '../scenario.ts';
import { pkcs11Backend, randomKey } from '../scenario.ts';

export const sigkillGeneration: Scenario = {
  name: 'sigkill-generation',
  summary: 'SIGKILL the operator while it generates keys (failpoint or random delay), then restart it',
  async run(trial) {
    const { backend } = await pkcs11Backend(trial);
    const moment = trial.moment(['managedkey-after-generate'], 4_000);
    const crashing = trial.operator('crashing', { failpoints: moment.failpoint ? [moment.failpoint] : [] });
    for (let i = 1, n = trial.prng.int(1, 3); i <= n; i++)
      await trial.createKey(randomKey(trial, `key-${i}`, backend));
    await trial.killAt(crashing, moment);
    trial.operator('recovering');
  },
};
