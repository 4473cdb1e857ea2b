// The local run: a control plane with the CRDs, a SoftHSM2 token with its PIN Secret, the operator, and examples/.
// Shows the keys becoming Ready, then keeps the operator running until Ctrl-C, when everything stops cleanly.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KubeClient } from '../src/kube/client.ts';
import { loadKubeConfig } from '../src/kube/config.ts';
import { describeError } from '../src/log.ts';
import { apply, installCrds, loadManifests } from './cluster.ts';
import { ensureControlPlane, stopControlPlane } from './testenv/controlplane.ts';

const root = path.resolve(import.meta.dirname, '..');
const stateDir = path.join(root, '.testenv', 'run');
const TOKEN_LABEL = 'keyward-dev'; // what examples/keybackend-softhsm.yaml names
const PIN_SECRET = { namespace: 'keyward-system', name: 'softhsm-pin' };

const say = (line: string): void => {
  process.stderr.write(`keyward: ${line}\n`);
};

/** A SoftHSM2 token directory of this run's own, kept across runs so keys survive a restart. */
function softHsmToken(): { conf: string; pin: string } {
  const tokens = path.join(stateDir, 'softhsm', 'tokens');
  const conf = path.join(stateDir, 'softhsm', 'softhsm2.conf');
  const pinFile = path.join(stateDir, 'softhsm', 'pin');
  if (!existsSync(pinFile)) {
    mkdirSync(tokens, { recursive: true });
    writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    const pin = randomBytes(8).toString('hex');
    const soPin = randomBytes(8).toString('hex');
    execFileSync(
      'softhsm2-util',
      ['--init-token', '--free', '--label', TOKEN_LABEL, '--pin', pin, '--so-pin', soPin],
      { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: 'ignore' },
    );
    writeFileSync(pinFile, pin, { mode: 0o600 });
    say(`made SoftHSM2 token "${TOKEN_LABEL}" in ${tokens}`);
  }
  return { conf, pin: readFileSync(pinFile, 'utf8') };
}

const controlPlane = await ensureControlPlane({ log: say });
const client = new KubeClient(loadKubeConfig({ path: controlPlane.kubeconfig }).kubeConfig);

say('installing the CRDs');
await installCrds(client);
const token = softHsmToken();
await apply(client, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: PIN_SECRET.namespace } });
await apply(client, {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: PIN_SECRET,
  data: { pin: Buffer.from(token.pin).toString('base64') },
} as Parameters<typeof apply>[1]);

say('applying examples/');
for (const { file, object } of await loadManifests(path.join(root, 'examples'))) {
  await apply(client, object).catch((error: unknown) => {
    say(
      `could not apply ${object.kind ?? ''} ${object.metadata?.name ?? ''} from examples/${file}: ${describeError(error)}`,
    );
  });
}

const logFile = path.join(stateDir, 'operator.log');
say(`starting the operator (logs in ${path.relative(root, logFile)})`);
const operator = spawn(
  process.execPath,
  [
    path.join(root, 'src', 'main.ts'),
    '--kubeconfig',
    controlPlane.kubeconfig,
    '--metrics-bind-address',
    '127.0.0.1:8080',
    '--health-probe-bind-address',
    '127.0.0.1:8081',
    // Leader election is on by default; outside a cluster it needs a namespace for its Lease. A single replica
    // leads at once (after Ctrl-C it released the Lease; after a crash it waits for the old one to expire, 15 s).
    '--leader-election-namespace',
    PIN_SECRET.namespace,
  ],
  { env: { ...process.env, SOFTHSM2_CONF: token.conf }, stdio: ['ignore', 'pipe', 'pipe'] },
);
const log = createWriteStream(logFile, { flags: 'a' });
operator.stdout.pipe(log);
operator.stderr.pipe(log);
const operatorExited = new Promise<number | null>((resolve) => operator.on('exit', resolve));

const kubectl = (...args: string[]): string =>
  execFileSync(controlPlane.kubectl, ['--kubeconfig', controlPlane.kubeconfig, ...args], {
    encoding: 'utf8',
  });

// Progress until every ManagedKey is Active (or a minute has passed: then the table shows what is not).
for (let waited = 0; waited < 60; waited++) {
  const phases = kubectl('get', 'managedkeys', '-A', '-o', 'jsonpath={range .items[*]}{.status.phase},{end}')
    .split(',')
    .slice(0, -1);
  const active = phases.filter((phase) => phase === 'Active').length;
  say(`${active} of ${phases.length} ManagedKeys active`);
  if (phases.length > 0 && active === phases.length) break;
  await new Promise((resolve) => setTimeout(resolve, 1_000));
}
process.stdout.write(`\n$ kubectl get keybackends\n${kubectl('get', 'keybackends')}`);
process.stdout.write(`\n$ kubectl get managedkeys -A\n${kubectl('get', 'managedkeys', '-A')}\n`);
say(
  `the operator keeps running; metrics on http://127.0.0.1:8080/metrics. KUBECONFIG=${controlPlane.kubeconfig}`,
);
say('press Ctrl-C to stop');

let stopping = false;
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
operator.on('exit', (code) => {
  if (stopping) return;
  say(`the operator exited (${String(code)}); see ${logFile}`);
  process.exit(1);
});

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  say('stopping the operator');
  operator.kill('SIGTERM');
  await operatorExited;
  say('stopping the control plane');
  await stopControlPlane();
  process.exit(0);
}
