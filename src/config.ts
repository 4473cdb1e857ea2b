// Command-line flags, with kubebuilder's names and defaults, validated into the operator's configuration.

import { parseArgs } from 'node:util';

import { isLogLevel, logLevels } from './log.ts';
import type { LogLevel } from './log.ts';
import { parseDuration } from './runtime/duration.ts';
import { defaultLeaderElectionTiming, validateLeaderElectionTiming } from './runtime/leaderelection.ts';
import type { LeaderElectionTiming } from './runtime/leaderelection.ts';
import { parseBindAddress } from './server/http.ts';

export interface OperatorConfig {
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  leaderElection: (LeaderElectionTiming & { namespace: string; id: string }) | undefined;
  watchNamespace: string | undefined;
  logLevel: LogLevel;
  kubeconfig: string | undefined;
  gracefulShutdownTimeoutMs: number;
  /** Export per-ManagedKey series (namespace and name labels); off on clusters with very many keys. */
  perKeyMetrics: boolean;
}

export type ParsedCommandLine = { help: string } | { config: OperatorConfig };

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export const defaultLeaderElectionId = 'keyward-operator.keyward.io';

const seconds = (ms: number): string => `${ms / 1000}s`;
const defaultLeaseDuration = seconds(defaultLeaderElectionTiming.leaseDurationMs);
const defaultRenewDeadline = seconds(defaultLeaderElectionTiming.renewDeadlineMs);
const defaultRetryPeriod = seconds(defaultLeaderElectionTiming.retryPeriodMs);

export const usage = `Usage: keyward-operator [flags]

Runs the Keyward operator against the cluster of --kubeconfig, $KUBECONFIG, the in-cluster service account
or ~/.kube/config, in that order.

Flags:
  --metrics-bind-address ADDR        where /metrics is served; "0" disables it (default ":8080")
  --health-probe-bind-address ADDR   where /healthz and /readyz are served; "0" disables them (default ":8081")
  --leader-elect                     elect a leader through a Lease so only one replica reconciles; with
                                     --leader-elect=false every replica reconciles (default true)
  --leader-election-namespace NS     namespace of the Lease (default: the pod's namespace; required outside
                                     a cluster)
  --leader-election-id NAME          name of the Lease (default "${defaultLeaderElectionId}")
  --leader-elect-lease-duration D    how long a standby waits before taking over (default "${defaultLeaseDuration}")
  --leader-elect-renew-deadline D    how long the leader tries to renew before stepping down (default "${defaultRenewDeadline}")
  --leader-elect-retry-period D      interval between attempts to acquire or renew (default "${defaultRetryPeriod}")
  --watch-namespace NS               watch only this namespace (default: all namespaces)
  --log-level LEVEL                  ${logLevels.join(', ')} (default "info")
  --kubeconfig PATH                  kubeconfig file to use
  --graceful-shutdown-timeout D      how long to wait for running reconciles on shutdown (default "30s")
  --per-key-metrics                  export keyward_key_* series per ManagedKey; --per-key-metrics=false on very
                                     large clusters (default true)
  -h, --help                         show this help

Durations are Go durations: 500ms, 15s, 1m30s.`;

export interface ConfigEnvironment {
  /** The namespace of the pod's service account, when running in a cluster. */
  inClusterNamespace?: string | undefined;
}

export function parseCommandLine(
  argv: readonly string[],
  environment: ConfigEnvironment = {},
): ParsedCommandLine {
  let values;
  try {
    ({ values } = parseArgs({
      args: normalizeBooleans(argv),
      strict: true,
      allowPositionals: false,
      allowNegative: true,
      options: {
        'metrics-bind-address': { type: 'string', default: ':8080' },
        'health-probe-bind-address': { type: 'string', default: ':8081' },
        'leader-elect': { type: 'boolean', default: true },
        'leader-election-namespace': { type: 'string' },
        'leader-election-id': { type: 'string', default: defaultLeaderElectionId },
        'leader-elect-lease-duration': { type: 'string', default: defaultLeaseDuration },
        'leader-elect-renew-deadline': { type: 'string', default: defaultRenewDeadline },
        'leader-elect-retry-period': { type: 'string', default: defaultRetryPeriod },
        'watch-namespace': { type: 'string' },
        'log-level': { type: 'string', default: 'info' },
        kubeconfig: { type: 'string' },
        'graceful-shutdown-timeout': { type: 'string', default: '30s' },
        'per-key-metrics': { type: 'boolean', default: true },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new ConfigError(`${err instanceof Error ? err.message : String(err)} (see --help)`);
  }
  if (values.help) return { help: usage };

  for (const flag of ['metrics-bind-address', 'health-probe-bind-address'] as const) {
    try {
      parseBindAddress(values[flag]);
    } catch (err) {
      throw new ConfigError(`--${flag}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const logLevel = values['log-level'];
  if (!isLogLevel(logLevel)) {
    throw new ConfigError(`--log-level: "${logLevel}" is not one of ${logLevels.join(', ')}`);
  }

  let leaderElection: OperatorConfig['leaderElection'];
  if (values['leader-elect']) {
    const namespace = values['leader-election-namespace'] ?? environment.inClusterNamespace;
    if (!namespace) {
      throw new ConfigError(
        '--leader-election-namespace is required outside a cluster (leader election is on unless --leader-elect=false)',
      );
    }
    const timing: LeaderElectionTiming = {
      leaseDurationMs: durationFlag(values, 'leader-elect-lease-duration'),
      renewDeadlineMs: durationFlag(values, 'leader-elect-renew-deadline'),
      retryPeriodMs: durationFlag(values, 'leader-elect-retry-period'),
    };
    const invalid = validateLeaderElectionTiming(timing);
    if (invalid) throw new ConfigError(`leader election: ${invalid}`);
    leaderElection = { ...timing, namespace, id: values['leader-election-id'] };
  }

  return {
    config: {
      metricsBindAddress: values['metrics-bind-address'],
      healthProbeBindAddress: values['health-probe-bind-address'],
      leaderElection,
      watchNamespace: values['watch-namespace'] || undefined,
      logLevel,
      kubeconfig: values.kubeconfig,
      gracefulShutdownTimeoutMs: durationFlag(values, 'graceful-shutdown-timeout'),
      perKeyMetrics: values['per-key-metrics'],
    },
  };
}

function durationFlag<K extends string>(values: Record<K, string | boolean | undefined>, flag: K): number {
  const text = values[flag];
  try {
    const ms = parseDuration(String(text));
    if (ms < 0) throw new Error(`negative duration "${String(text)}"`);
    return ms;
  } catch (err) {
    throw new ConfigError(`--${flag}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// Go's flag package accepts --leader-elect=true/false; node's parseArgs takes --flag and --no-flag.
function normalizeBooleans(argv: readonly string[]): string[] {
  return argv.map((arg) => {
    const match = /^--(leader-elect|per-key-metrics|help)=(true|false)$/.exec(arg);
    if (!match) return arg;
    return match[2] === 'true' ? `--${match[1] ?? ''}` : `--no-${match[1] ?? ''}`;
  });
}
