// SIGKILL during rotation: a key Ready at version 1 is rotated once or twice (spec.rotation.trigger), and each time
// the operator is killed at `rotation-after-generate`, `rotation-after-record` or a random delay.
import type { Scenario } from '../scenario.ts';
import { pkcs11Backend, randomKey } from '../scenario.ts';

export const ROTATION_FAILPOINTS = ['rotation-after-generate', 'rotation-after-record'];

export const sigkillRotation: Scenario = {
  name: 'sigkill-rotation',
  summary:
    'SIGKILL the operator during one or two rotations (failpoint or random delay), restarting it each time',
  async run(trial) {
    const { backend } = await pkcs11Backend(trial);
    const retainVersions = trial.prng.int(1, 3);
    await trial.createKey(
      randomKey(trial, 'rotating', backend, { rotation: { period: '8760h', trigger: 't0', retainVersions } }),
    );
    let steady = trial.operator('steady-0');
    await trial.keyReady('rotating', 1);
    for (let round = 1, rounds = trial.prng.int(1, 2); round <= rounds; round++) {
      steady.child.kill('SIGTERM');
      await steady.exited;
      const moment = trial.moment(ROTATION_FAILPOINTS, 5_000);
      const crashing = trial.operator(`crashing-${round}`, {
        failpoints: moment.failpoint ? [moment.failpoint] : [],
      });
      await trial.patchKey('rotating', { spec: { rotation: { trigger: `t${round}` } } });
      await trial.killAt(crashing, moment);
      steady = trial.operator(`steady-${round}`);
      if (round < rounds) await trial.keyReady('rotating', round + 1);
    }
  },
};
