// The token made unavailable and brought back: SoftHSM2's token directory moved away (as a network HSM that drops
// off, or a USB token pulled) while keys are generated and rotated, then put back.
import { readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Scenario } from '../scenario.ts';
import { pkcs11Backend, randomKey } from '../scenario.ts';

export const tokenUnavailable: Scenario = {
  name: 'token-unavailable',
  summary: "move the SoftHSM2 token's directory away mid-reconcile, then put it back",
  async run(trial) {
    const { backend, softhsm } = await pkcs11Backend(trial);
    await trial.createKey(
      randomKey(trial, 'rotating', backend, {
        rotation: { period: '8760h', trigger: 't0', retainVersions: 2 },
      }),
    );
    trial.operator('operator');
    await trial.keyReady('rotating', 1);
    const tokens = join(softhsm.dir, 'tokens');
    const [tokenDir] = readdirSync(tokens);
    if (tokenDir === undefined) throw new Error(`no token in ${tokens}`);
    const away = join(softhsm.dir, 'away');
    // A rotation and new keys asked for just before the token goes, or while it is gone.
    const work = async (): Promise<void> => {
      await trial.patchKey('rotating', { spec: { rotation: { trigger: 't1' } } });
      for (let i = 1, n = trial.prng.int(1, 2); i <= n; i++)
        await trial.createKey(randomKey(trial, `key-${i}`, backend));
    };
    const workFirst = trial.prng.chance(0.5);
    const goneMs = trial.prng.int(2_000, 12_000);
    if (workFirst) await work();
    await sleep(trial.prng.int(0, 1_500));
    // The watch reads the token through pkcs11-tool and would see every object vanish: it pauses meanwhile.
    await trial.pauseWatch(async () => {
      renameSync(join(tokens, tokenDir), away);
      trial.note(`token directory moved away for ${goneMs} ms`);
      if (!workFirst) await work();
      await sleep(goneMs);
      renameSync(away, join(tokens, tokenDir));
    });
    trial.note('token directory back');
  },
};
