// Runs an operator process: flags, logging, the API server connection, the manager with its controllers,
// the metrics and probe servers, and signal handling. src/main.ts runs it with Keyward's controllers; tests
// run it with fixture controllers, so both go through the same wiring.

import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';

import { ConfigError, parseCommandLine } from '../config.ts';
import type { OperatorConfig } from '../config.ts';
import { createLogger, describeError } from '../log.ts';
import type { Logger } from '../log.ts';
import { KubeClient } from '../kube/client.ts';
import { KubeConfigError, loadKubeConfig } from '../kube/config.ts';
import { OperatorMetrics } from '../metrics/registry.ts';
import { metricsHandler, probesHandler, serve } from '../server/http.ts';
import type { RunningServer } from '../server/http.ts';
import type { Clock } from './clock.ts';
import { Manager } from './manager.ts';
import type { ControllerFactory } from './manager.ts';

const inClusterNamespaceFile = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export interface OperatorRun {
  argv: readonly string[];
  controllers: readonly ControllerFactory[];
  /** The system clock unless given: the chaos tests run an operator a destroy window ahead (test/chaos). */
  clock?: Clock;
}

/** Runs until a signal or a fatal condition; returns the process exit code. */
export async function runOperator({ argv, controllers, clock }: OperatorRun): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(argv, { inClusterNamespace: readInClusterNamespace() });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`keyward-operator: ${err.message}\n`);
    return 2;
  }
  if ('help' in parsed) {
    process.stdout.write(parsed.help + '\n');
    return 0;
  }
  const { config } = parsed;
  const log = createLogger({ level: config.logLevel });

  let kube;
  try {
    kube = loadKubeConfig({ path: config.kubeconfig });
  } catch (err) {
    if (!(err instanceof KubeConfigError)) throw err;
    log.error(`cannot start: ${err.message}`);
    return 1;
  }
  const metrics = new OperatorMetrics();
  const host = new URL(kube.server).host;
  const client = new KubeClient(kube.kubeConfig, {
    onResponse: (method, code) => {
      metrics.apiRequest(host, method, code);
    },
  });
  const unreachable = await checkReachable(client);
  if (unreachable) {
    log.error(
      `cannot start: the Kubernetes API server at ${kube.server} (from ${kube.source}) is not reachable: ${unreachable}`,
    );
    return 1;
  }
  log.info('connected to the Kubernetes API server', { server: kube.server, from: kube.source });

  const identity = `${hostname()}_${crypto.randomUUID()}`;
  const manager = new Manager({
    client,
    clock,
    log,
    metrics,
    watchNamespace: config.watchNamespace,
    leaderElection: config.leaderElection && { ...config.leaderElection, identity },
    gracefulShutdownTimeoutMs: config.gracefulShutdownTimeoutMs,
    eventInstance: hostname(),
  });
  for (const addControllers of controllers) addControllers(manager, config);

  const servers = await startServers(config, metrics, manager, log);
  if (!servers) return 1;

  manager.start();
  log.info('operator started', {
    controllers: controllers.length,
    leaderElection: config.leaderElection
      ? `${config.leaderElection.namespace}/${config.leaderElection.id}`
      : 'off',
    identity: manager.identity,
    watchNamespace: config.watchNamespace ?? '(all)',
  });

  const leadershipLost = (): number => {
    log.error('leader election lost; exiting so that only the new leader reconciles');
    return 1;
  };
  const signalled = waitForSignal(log);
  const outcome = await Promise.race([signalled.then(() => 'signal' as const), manager.exited]);
  if (outcome !== 'signal' && outcome.reason === 'leadership-lost') return leadershipLost();
  // Leadership may also be lost while reconciles drain: exit then too, without waiting for them.
  const stopped = await Promise.race([manager.stop().then(() => manager.exited), manager.exited]);
  if (stopped.reason === 'leadership-lost') return leadershipLost();
  await Promise.all(servers.map((server) => server.close()));
  log.info('stopped');
  return 0;
}

/** The metrics and probe servers, or undefined (after logging why) when an address cannot be bound. */
async function startServers(
  config: OperatorConfig,
  metrics: OperatorMetrics,
  manager: Manager,
  log: Logger,
): Promise<RunningServer[] | undefined> {
  const wanted = [
    { what: 'metrics', address: config.metricsBindAddress, handler: metricsHandler(metrics) },
    {
      what: 'health probes',
      address: config.healthProbeBindAddress,
      handler: probesHandler({ healthy: () => true, ready: () => manager.ready }),
    },
  ];
  const servers: RunningServer[] = [];
  try {
    for (const { what, address, handler } of wanted) {
      const server = await serve(address, handler);
      if (server) {
        servers.push(server);
        log.info(`serving ${what}`, { address: server.address });
      }
    }
    return servers;
  } catch (err) {
    log.error('cannot start: a listen address is not available', { err });
    await Promise.all(servers.map((server) => server.close()));
    return undefined;
  }
}

/** Resolves on the first SIGTERM or SIGINT; a second one exits at once. */
function waitForSignal(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (received) {
        log.warn('second signal; exiting without waiting', { signal });
        process.exit(1);
      }
      received = true;
      log.info('shutting down', { signal });
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

async function checkReachable(client: KubeClient): Promise<string | undefined> {
  try {
    await client.request('GET', '/version', { signal: AbortSignal.timeout(10_000) });
    return undefined;
  } catch (err) {
    return describeError(err);
  }
}

function readInClusterNamespace(): string | undefined {
  if (!existsSync(inClusterNamespaceFile)) return undefined;
  return readFileSync(inClusterNamespaceFile, 'utf8').trim() || undefined;
}
