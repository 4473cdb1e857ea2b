// Local control plane for tests and development.
//   node scripts/testenv.ts up     start (or reuse) it; the last line of output is the kubeconfig path
//   node scripts/testenv.ts down   stop it
import { ensureControlPlane, stopControlPlane } from './testenv/controlplane.ts';

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

switch (process.argv[2]) {
  case 'up': {
    const controlPlane = await ensureControlPlane({ log });
    log(`server ${controlPlane.server}, kubectl ${controlPlane.kubectl}`);
    process.stdout.write(`${controlPlane.kubeconfig}\n`);
    break;
  }
  case 'down':
    log((await stopControlPlane()) ? 'control plane stopped' : 'no control plane was running');
    break;
  default:
    log('usage: node scripts/testenv.ts up|down');
    process.exitCode = 2;
}
