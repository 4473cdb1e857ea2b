import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ConfigError, defaultLeaderElectionId, parseCommandLine, usage } from '../../../src/config.ts';
import type { OperatorConfig } from '../../../src/config.ts';

function configOf(argv: string[], inClusterNamespace?: string): OperatorConfig {
  const parsed = parseCommandLine(argv, { inClusterNamespace });
  assert.ok('config' in parsed);
  return parsed.config;
}

describe('command line', () => {
  it("uses kubebuilder's defaults", () => {
    assert.deepEqual(configOf([], 'keyward-system'), {
      metricsBindAddress: ':8080',
      healthProbeBindAddress: ':8081',
      leaderElection: {
        namespace: 'keyward-system',
        id: defaultLeaderElectionId,
        leaseDurationMs: 15_000,
        renewDeadlineMs: 10_000,
        retryPeriodMs: 2_000,
      },
      watchNamespace: undefined,
      logLevel: 'info',
      kubeconfig: undefined,
      gracefulShutdownTimeoutMs: 30_000,
      perKeyMetrics: true,
    });
  });

  it('parses every flag, in both --flag=value and --flag value forms', () => {
    const config = configOf([
      '--metrics-bind-address=127.0.0.1:0',
      '--health-probe-bind-address',
      '0',
      '--leader-elect',
      '--leader-election-namespace=keyward-system',
      '--leader-election-id',
      'test-lock',
      '--leader-elect-lease-duration=4s',
      '--leader-elect-renew-deadline=3s',
      '--leader-elect-retry-period=500ms',
      '--watch-namespace=payments',
      '--log-level=debug',
      '--kubeconfig=/tmp/kc',
      '--graceful-shutdown-timeout=1m',
      '--per-key-metrics=false',
    ]);
    assert.deepEqual(config, {
      metricsBindAddress: '127.0.0.1:0',
      healthProbeBindAddress: '0',
      leaderElection: {
        namespace: 'keyward-system',
        id: 'test-lock',
        leaseDurationMs: 4000,
        renewDeadlineMs: 3000,
        retryPeriodMs: 500,
      },
      watchNamespace: 'payments',
      logLevel: 'debug',
      kubeconfig: '/tmp/kc',
      gracefulShutdownTimeoutMs: 60_000,
      perKeyMetrics: false,
    });
  });

  it('elects a leader unless told --leader-elect=false, in the pod namespace or the one named', () => {
    assert.equal(configOf([], 'ns').leaderElection?.namespace, 'ns');
    assert.equal(configOf(['--leader-election-namespace=other'], 'ns').leaderElection?.namespace, 'other');
    assert.ok(configOf(['--leader-elect=true'], 'ns').leaderElection);
    assert.equal(configOf(['--leader-elect=false'], 'ns').leaderElection, undefined);
    assert.equal(configOf(['--no-leader-elect']).leaderElection, undefined, 'no namespace needed when off');
  });

  it('answers --help and -h with the usage', () => {
    assert.deepEqual(parseCommandLine(['--help']), { help: usage });
    assert.deepEqual(parseCommandLine(['-h']), { help: usage });
    for (const flag of ['--metrics-bind-address', '--leader-elect', '--watch-namespace', '--log-level']) {
      assert.ok(usage.includes(flag), flag);
    }
  });

  it('rejects bad input with a message naming the flag', () => {
    const cases: [string[], RegExp][] = [
      [['--nope'], /Unknown option '--nope'/],
      [['--log-level=loud'], /--log-level: "loud" is not one of debug, info, warn, error/],
      [['--metrics-bind-address=8080'], /--metrics-bind-address: invalid bind address "8080"/],
      [['--health-probe-bind-address=:99999'], /--health-probe-bind-address: invalid port/],
      [[], /--leader-election-namespace is required outside a cluster.*--leader-elect=false/],
      [['--leader-elect'], /--leader-election-namespace is required/],
      [
        ['--leader-elect', '--leader-election-namespace=x', '--leader-elect-retry-period=2'],
        /invalid duration/,
      ],
      [
        ['--leader-elect', '--leader-election-namespace=x', '--leader-elect-renew-deadline=20s'],
        /lease duration must be greater than renew deadline/,
      ],
      [
        ['--leader-elect', '--leader-election-namespace=x', '--leader-elect-retry-period=9s'],
        /renew deadline must be greater than 1.2 x retry period/,
      ],
      [['--graceful-shutdown-timeout=-1s', '--leader-elect=false'], /negative duration/],
      [['positional'], /positional/i],
    ];
    for (const [argv, message] of cases) {
      assert.throws(
        () => parseCommandLine(argv),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
        argv.join(' '),
      );
    }
  });
});
