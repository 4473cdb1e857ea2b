// SIGKILL during destruction: a key with deletionPolicy Destroy (destroyAfter 24h) and two versions is deleted; the
// operator is killed while it disables and schedules, an operator on the real clock runs a while (it must destroy
// nothing: the window is open), then operators a window later (their clock 24h ahead) destroy, one of them killed
// at `managedkey-after-destroy-version` (between versions) or a random delay.
import type { Scenario } from '../scenario.ts';
import { pkcs11Backend, randomKey } from '../scenario.ts';

const DESTROY_AFTER_MS = 24 * 3_600_000;

export const sigkillDestruction: Scenario = {
  name: 'sigkill-destruction',
  summary:
    'SIGKILL the operator while it schedules and performs a Destroy deletion, before and after the window',
  async run(trial) {
    const { backend } = await pkcs11Backend(trial);
    await trial.createKey(
      randomKey(trial, 'doomed', backend, {
        deletionPolicy: 'Destroy',
        destroyAfter: '24h',
        rotation: { period: '8760h', trigger: 't0', retainVersions: 2 },
      }),
    );
    const steady = trial.operator('steady');
    await trial.keyReady('doomed', 1);
    await trial.patchKey('doomed', { spec: { rotation: { trigger: 't1' } } });
    await trial.keyReady('doomed', 2);
    steady.child.kill('SIGTERM');
    await steady.exited;

    const scheduling = trial.operator('scheduling');
    await trial.deleteKey('doomed');
    await trial.killAt(scheduling, { delayMs: trial.prng.int(0, 4_000) });
    const early = trial.operator('within-window');
    await trial.waitFor('PendingDestruction', async () => (await trial.key('doomed'))?.status?.destroyTime);
    await trial.killAt(early, { delayMs: trial.prng.int(500, 3_000) });

    trial.clockOffsetMs = DESTROY_AFTER_MS + 60_000;
    trial.note('the clock moves past the window');
    const moment = trial.moment(['managedkey-after-destroy-version'], 3_000);
    const destroying = trial.operator('destroying', {
      failpoints: moment.failpoint ? [moment.failpoint] : [],
    });
    await trial.killAt(destroying, moment);
    trial.operator('finishing');
  },
};
