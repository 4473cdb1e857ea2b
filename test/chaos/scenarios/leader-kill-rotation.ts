// The leader killed during a rotation with a standby waiting (leader election on): the standby takes the Lease once
// it expires and finishes the rotation without a second version or a lost one.
import type { Scenario } from '../scenario.ts';
import { pkcs11Backend, randomKey } from '../scenario.ts';
import { ROTATION_FAILPOINTS } from './sigkill-rotation.ts';

export const leaderKillRotation: Scenario = {
  name: 'leader-kill-rotation',
  summary: 'SIGKILL the leader during a rotation while a standby operator waits for the Lease',
  async run(trial) {
    const { backend } = await pkcs11Backend(trial);
    const moment = trial.moment(ROTATION_FAILPOINTS, 4_000);
    const leader = trial.operator('leader', {
      leaderElect: true,
      failpoints: moment.failpoint ? [moment.failpoint] : [],
    });
    await leader.waitForLog('leading', (line) => line.msg === 'acquired the lease; leading', 60_000);
    const standby = trial.operator('standby', { leaderElect: true });
    await standby.waitForLog('waiting', (line) => line.msg === 'waiting to acquire the lease', 60_000);
    await trial.createKey(
      randomKey(trial, 'rotating', backend, {
        rotation: { period: '8760h', trigger: 't0', retainVersions: 2 },
      }),
    );
    await trial.keyReady('rotating', 1);
    await trial.patchKey('rotating', { spec: { rotation: { trigger: 't1' } } });
    await trial.killAt(leader, moment);
    await standby.waitForLog(
      'the standby leading',
      (line) => line.msg === 'acquired the lease; leading',
      90_000,
    );
    trial.note('the standby leads');
  },
};
