// The lease protocol itself against the real API server: a valid foreign lease is respected, an expired one
// is taken over, a leader whose lease is taken away steps down, a leader that cannot renew within the renew
// deadline steps down by then, and a release empties the holder. Then the manager's part: it releases the
// lease on a stop only when every reconcile finished.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { KubeClient } from '../../../src/kube/client.ts';
import { builtinResources } from '../../../src/kube/resource.ts';
import { OperatorMetrics } from '../../../src/metrics/registry.ts';
import { sleep } from '../../../src/runtime/backoff.ts';
import { formatMicroTime } from '../../../src/runtime/clock.ts';
import { LeaderElector } from '../../../src/runtime/leaderelection.ts';
import type { Lease } from '../../../src/runtime/leaderelection.ts';
import { Manager } from '../../../src/runtime/manager.ts';
import type { ConfigMap } from '../../fixtures/fixture-controller.ts';
import {
  clientFor,
  createNamespace,
  eventually,
  kubeconfigVia,
  recordingLogger,
  runtimeTestEnv,
} from '../../fixtures/runtime-env.ts';
import type { RuntimeTestEnv } from '../../fixtures/runtime-env.ts';
import { startTcpProxy } from '../../fixtures/tcp-proxy.ts';
import type { TcpProxy } from '../../fixtures/tcp-proxy.ts';

const leases = builtinResources.leases;
const timing = { leaseDurationMs: 5_000, renewDeadlineMs: 2_000, retryPeriodMs: 200 };

describe('leader election on a Lease', () => {
  let env: RuntimeTestEnv;
  let namespace: string;
  const electors: LeaderElector[] = [];
  const proxies: TcpProxy[] = [];

  const elector = (name: string, identity: string, client: KubeClient = env.client): LeaderElector => {
    const created = new LeaderElector({
      ...timing,
      client,
      namespace,
      name,
      identity,
      log: recordingLogger().log,
    });
    electors.push(created);
    return created;
  };

  const foreignLease = (name: string): Lease => {
    const now = formatMicroTime(Date.now());
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace },
      spec: {
        holderIdentity: 'ghost',
        leaseDurationSeconds: 5,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 3,
      },
    };
  };

  before(async () => {
    env = await runtimeTestEnv();
    namespace = await createNamespace(env.client, 'lease');
  });

  after(async () => {
    await Promise.all(electors.map((e) => e.release()));
    await Promise.all(proxies.map((proxy) => proxy.close()));
  });

  it('respects a foreign lease while it is valid, then takes it over once it expires', async () => {
    await env.client.create(leases, foreignLease('expiring'));
    const candidate = elector('expiring', 'candidate');
    let started = false;
    candidate.run({ onStartedLeading: () => (started = true), onStoppedLeading: () => undefined });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(started, false, 'the ghost lease is valid for 5 s after we first saw it');
    await eventually('the candidate to lead', () => started, 15_000);
    const { spec } = await env.client.get<Lease>(leases, 'expiring', namespace);
    assert.ok(spec);
    assert.equal(spec.holderIdentity, 'candidate');
    assert.equal(spec.leaseTransitions, 4);
    assert.match(spec.renewTime ?? '', /\.\d{6}Z$/);
  });

  it('steps down at once when someone else takes the lease', async () => {
    const leader = elector('stolen', 'leader');
    let lost = false;
    let led = false;
    leader.run({ onStartedLeading: () => (led = true), onStoppedLeading: () => (lost = true) });
    await eventually('leadership', () => led);
    const lease = await env.client.get<Lease>(leases, 'stolen', namespace);
    await env.client.replace<Lease>(leases, { ...foreignLease('stolen'), metadata: lease.metadata });
    await eventually('the leader to step down', () => lost, 10_000);
    assert.equal(leader.isLeader, false);
  });

  it('steps down within the renew deadline when the API server fails, then stops answering', async () => {
    const { hostname, port } = new URL(env.server);
    const proxy = await startTcpProxy(hostname, Number(port));
    proxies.push(proxy);
    const leader = elector('unanswered', 'leader', clientFor(kubeconfigVia(env, proxy.address)));
    let led = false;
    let lostAt: number | undefined;
    leader.run({
      onStartedLeading: () => (led = true),
      onStoppedLeading: () => (lostAt = performance.now()),
    });
    await eventually('leadership', () => led);
    await sleep(3 * timing.retryPeriodMs);
    assert.equal(lostAt, undefined, 'renewals through the proxy succeed');

    // Failures that come back at once for most of the deadline, then requests that hang: each would be
    // within its own timeout, but the renewal as a whole is not.
    const goneAt = performance.now();
    proxy.refuseNew(true);
    proxy.cut();
    await sleep(0.75 * timing.renewDeadlineMs);
    assert.equal(lostAt, undefined, 'a failed renewal is retried until the deadline');
    proxy.refuseNew(false);
    proxy.stallNew(true);
    const steppedDownAt = await eventually(
      'the leader to step down',
      () => lostAt,
      3 * timing.renewDeadlineMs,
    );
    const steppedDownAfter = steppedDownAt - goneAt;
    assert.ok(
      steppedDownAfter <= timing.renewDeadlineMs + 250,
      `stepped down ${Math.round(steppedDownAfter)} ms after the last renewal could have started; ` +
        `the renew deadline is ${timing.renewDeadlineMs} ms`,
    );
    assert.equal(leader.isLeader, false);
  });

  it('releases the lease with an empty holder and keeps the transition count', async () => {
    const leader = elector('released', 'leader');
    let led = false;
    leader.run({ onStartedLeading: () => (led = true), onStoppedLeading: () => undefined });
    await eventually('leadership', () => led);
    await leader.release();
    const { spec } = await env.client.get<Lease>(leases, 'released', namespace);
    assert.ok(spec);
    assert.equal(spec.holderIdentity, '');
    assert.equal(spec.leaseTransitions, 0);

    const next = elector('released', 'next');
    let nextLed = false;
    next.run({ onStartedLeading: () => (nextLed = true), onStoppedLeading: () => undefined });
    await eventually('the next candidate to lead at once', () => nextLed, 3_000);
    const taken = await env.client.get<Lease>(leases, 'released', namespace);
    assert.equal(taken.spec?.leaseTransitions, 1);
  });
});

describe("a leader's lease when the manager stops", () => {
  let env: RuntimeTestEnv;
  let namespace: string;
  const managers: Manager[] = [];
  let unblock: () => void = () => undefined;
  const blocked = new Promise<void>((resolve) => (unblock = resolve));

  /** A leading manager whose one controller runs `reconcile` on the ConfigMaps labelled with `id`. */
  const leadingManager = async (id: string, reconcile: () => Promise<void>): Promise<Manager> => {
    const manager = new Manager({
      client: env.client,
      log: recordingLogger().log,
      metrics: new OperatorMetrics({ processMetrics: false }),
      watchNamespace: namespace,
      leaderElection: { ...timing, namespace, id, identity: id },
      gracefulShutdownTimeoutMs: 500,
    });
    managers.push(manager);
    manager.addController<ConfigMap>({
      name: id,
      resource: builtinResources.configMaps,
      labelSelector: `drain=${id}`,
      reconcile: async () => {
        await reconcile();
        return {};
      },
    });
    manager.start();
    await eventually(`${id} to lead`, () => manager.isLeader);
    return manager;
  };

  const reconcileOnce = async (id: string): Promise<void> => {
    await env.client.create(builtinResources.configMaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: id, namespace, labels: { drain: id } },
    });
  };

  const leaseOf = async (id: string): Promise<Lease> =>
    env.client.get<Lease>(builtinResources.leases, id, namespace);

  before(async () => {
    env = await runtimeTestEnv();
    namespace = await createNamespace(env.client, 'drain');
  });

  after(async () => {
    unblock();
    await Promise.all(managers.map((manager) => manager.stop()));
  });

  it('releases the lease when every reconcile finished', async () => {
    let reconciled = false;
    const manager = await leadingManager('drained', async () => {
      reconciled = true;
      await sleep(100);
    });
    await reconcileOnce('drained');
    await eventually('the reconcile', () => reconciled);
    await manager.stop();
    assert.equal((await leaseOf('drained')).spec?.holderIdentity, '');
  });

  it('keeps the lease, to expire, when a reconcile is still running after the shutdown timeout', async () => {
    let reconciling = false;
    const manager = await leadingManager('undrained', async () => {
      reconciling = true;
      await blocked; // a reconcile that may still write
    });
    await reconcileOnce('undrained');
    await eventually('the reconcile to start', () => reconciling);
    const held = await leaseOf('undrained');
    await manager.stop();
    const { spec } = await leaseOf('undrained');
    assert.ok(spec);
    assert.equal(spec.holderIdentity, 'undrained', 'no standby may take over while the reconcile runs');
    assert.equal(spec.leaseDurationSeconds, held.spec?.leaseDurationSeconds);
    assert.equal(manager.isLeader, false, 'and it stopped renewing');

    const standby = new LeaderElector({
      ...timing,
      client: env.client,
      namespace,
      name: 'undrained',
      identity: 'standby',
      log: recordingLogger().log,
    });
    let standbyLed = false;
    standby.run({ onStartedLeading: () => (standbyLed = true), onStoppedLeading: () => undefined });
    await sleep(timing.leaseDurationMs / 2);
    assert.equal(standbyLed, false, 'the standby waits for the lease to expire');
    await eventually('the standby to lead once it expired', () => standbyLed, 2 * timing.leaseDurationMs);
    await standby.release();
  });
});
