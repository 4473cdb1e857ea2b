// The API server and etcd stopped and restarted mid-reconcile: keys being generated and one rotating when the
// control plane goes away for a few seconds; the operator rides it out (leader election off: with it, a leader that
// cannot renew its Lease exits, which the leader scenario covers). The control plane is killed (SIGKILL, etcd
// included, as a node losing power), not stopped: a graceful stop waits up to 60 s for open watches to drain.
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureControlPlane } from '../../../scripts/testenv/controlplane.ts';
import { stateDir, stateFiles } from '../../../scripts/testenv/paths.ts';
import { readPid, waitForExit } from '../../../scripts/testenv/process.ts';
import type { Scenario } from '../scenario.ts';
import { pkcs11Backend, randomKey } from '../scenario.ts';

export const controlplaneRestart: Scenario = {
  name: 'controlplane-restart',
  summary: 'stop the API server and etcd mid-reconcile (generation and rotation), restart them',
  async run(trial) {
    const { backend } = await pkcs11Backend(trial);
    await trial.createKey(
      randomKey(trial, 'rotating', backend, {
        rotation: { period: '8760h', trigger: 't0', retainVersions: 2 },
      }),
    );
    trial.operator('riding-out');
    await trial.keyReady('rotating', 1);
    await trial.patchKey('rotating', { spec: { rotation: { trigger: 't1' } } });
    for (let i = 1, n = trial.prng.int(1, 3); i <= n; i++)
      await trial.createKey(randomKey(trial, `key-${i}`, backend));
    await sleep(trial.prng.int(0, 3_000));
    const pid = readPid(stateFiles(stateDir()).pid);
    if (pid === undefined) throw new Error('no control plane pid');
    process.kill(pid, 'SIGKILL');
    await waitForExit(pid, 10_000);
    const downMs = trial.prng.int(1_000, 8_000);
    trial.note(`control plane stopped for ${downMs} ms`);
    await sleep(downMs);
    await ensureControlPlane();
    trial.note('control plane back');
  },
};
