// The operator as a process (the fixture operator: the real wiring with a small controller), against the
// real API server: leader election across two replicas, SIGTERM, the API server going away and coming back,
// and the message when there is no cluster at all.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { ensureControlPlane, stopControlPlane } from '../../../scripts/testenv/controlplane.ts';
import { builtinResources } from '../../../src/kube/resource.ts';
import { sleep } from '../../../src/runtime/backoff.ts';
import { formatMicroTime } from '../../../src/runtime/clock.ts';
import type { Lease } from '../../../src/runtime/leaderelection.ts';
import {
  digestOf,
  fixtureFinalizer,
  observedAnnotation,
  watchLabel,
} from '../../fixtures/fixture-controller.ts';
import type { ConfigMap } from '../../fixtures/fixture-controller.ts';
import { baseArgs, mainPath, startOperator } from '../../fixtures/operator-process.ts';
import type { OperatorProcess } from '../../fixtures/operator-process.ts';
import { createNamespace, eventually, runtimeTestEnv, sampleValue } from '../../fixtures/runtime-env.ts';
import type { RuntimeTestEnv } from '../../fixtures/runtime-env.ts';

const configMaps = builtinResources.configMaps;

describe('operator process', () => {
  let env: RuntimeTestEnv;
  const operators: OperatorProcess[] = [];

  const launch = (name: string, args: string[]): OperatorProcess => {
    const operator = startOperator(name, args);
    operators.push(operator);
    return operator;
  };

  const putConfigMap = async (
    namespace: string,
    name: string,
    data: Record<string, string>,
  ): Promise<void> => {
    const object: ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace, labels: { [watchLabel]: 'true' } },
      data,
    };
    try {
      await env.client.create(configMaps, object);
    } catch {
      await env.client.patch(configMaps, name, namespace, 'merge', { data });
    }
  };

  /** Waits until the operator has recorded the digest of the ConfigMap's current data. */
  const observed = (namespace: string, name: string, data: Record<string, string>, timeoutMs = 30_000) =>
    eventually(
      `${namespace}/${name} to be reconciled`,
      async () => {
        const object = await env.client.get<ConfigMap>(configMaps, name, namespace);
        return object.metadata.annotations?.[observedAnnotation] === digestOf(data) ? object : undefined;
      },
      timeoutMs,
    );

  const leading = (operator: OperatorProcess, timeoutMs?: number) =>
    operator.waitForLog(
      'acquired the lease',
      (line) => line.msg === 'acquired the lease; leading',
      timeoutMs,
    );

  const metricsOf = async (operator: OperatorProcess): Promise<string> =>
    (await fetch(`${await operator.url('metrics')}/metrics`)).text();

  const readyz = async (operator: OperatorProcess): Promise<number> =>
    (await fetch(`${await operator.url('health probes')}/readyz`)).status;

  /** Starts two replicas and returns them as [leader, standby] once one leads and both are ready. */
  const electLeader = async (
    namespace: string,
    timing: string[],
  ): Promise<[OperatorProcess, OperatorProcess]> => {
    // No --leader-elect: it is on by default.
    const args = [...baseArgs(env.kubeconfigPath, namespace), '--leader-election-id=fixture-lock', ...timing];
    const a = launch('a', args);
    const b = launch('b', args);
    const first = await Promise.race([leading(a).then(() => a), leading(b).then(() => b)]);
    const standby = first === a ? b : a;
    await eventually(
      'both replicas to be ready',
      async () => (await readyz(first)) === 200 && (await readyz(standby)) === 200,
    );
    return [first, standby];
  };

  const identityOf = async (operator: OperatorProcess): Promise<string> =>
    String(
      (await operator.waitForLog('operator started', (line) => line.msg === 'operator started')).identity,
    );

  before(async () => {
    env = await runtimeTestEnv();
  });

  after(async () => {
    for (const operator of operators) operator.child.kill('SIGKILL');
    await Promise.all(operators.map((operator) => operator.exited));
  });

  it('exits with a clear message when it can reach no cluster', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyward-nocluster-'));
    // Leader election is on by default, and outside a cluster its Lease needs a namespace.
    const noFlags = startOperator('no-flags', [], {
      script: mainPath,
      env: { PATH: process.env.PATH, HOME: dir },
    });
    assert.deepEqual(await noFlags.exited, { code: 2, signal: null });
    assert.match(
      String(noFlags.logs.at(-1)?.text),
      /--leader-election-namespace is required outside a cluster \(leader election is on unless --leader-elect=false\)/,
    );
    const outsideACluster = ['--leader-election-namespace=keyward-system'];

    const noConfig = startOperator('no-config', outsideACluster, {
      script: mainPath,
      env: { PATH: process.env.PATH, HOME: dir },
    });
    assert.deepEqual(await noConfig.exited, { code: 1, signal: null });
    assert.match(String(noConfig.logs.at(-1)?.msg), /cannot start: no Kubernetes configuration found/);

    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: c, cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}}]',
        'users: [{name: u, user: {token: t}}]',
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
      ].join('\n'),
    );
    const unreachable = startOperator('unreachable', outsideACluster, {
      script: mainPath,
      env: { PATH: process.env.PATH, HOME: dir, KUBECONFIG: kubeconfig },
    });
    assert.deepEqual(await unreachable.exited, { code: 1, signal: null });
    assert.match(
      String(unreachable.logs.at(-1)?.msg),
      /the Kubernetes API server at https:\/\/127\.0\.0\.1:9 \(from KUBECONFIG=.*\) is not reachable/,
    );
  });

  it('fails over when the leader is killed with SIGKILL, and the new leader reconciles', async () => {
    const namespace = await createNamespace(env.client, 'failover');
    const [leader, standby] = await electLeader(namespace, [
      '--leader-elect-lease-duration=4s',
      '--leader-elect-renew-deadline=3s',
      '--leader-elect-retry-period=500ms',
    ]);
    await putConfigMap(namespace, 'one', { v: '1' });
    const reconciled = await observed(namespace, 'one', { v: '1' });
    assert.deepEqual(reconciled.metadata.finalizers, [fixtureFinalizer]);
    assert.match(await metricsOf(leader), /^leader_election_master_status\{name="fixture-lock"\} 1$/m);
    assert.match(await metricsOf(standby), /^leader_election_master_status\{name="fixture-lock"\} 0$/m);
    assert.equal(sampleValue(await metricsOf(standby), 'controller_runtime_reconcile_total'), 0);

    leader.child.kill('SIGKILL');
    await leader.exited;
    await putConfigMap(namespace, 'one', { v: '2' });
    await putConfigMap(namespace, 'two', { v: '1' });
    await leading(standby);
    await observed(namespace, 'one', { v: '2' });
    await observed(namespace, 'two', { v: '1' });
    const lease = await env.client.get<Lease>(builtinResources.leases, 'fixture-lock', namespace);
    assert.ok(lease.spec);
    assert.equal(lease.spec.holderIdentity, await identityOf(standby));
    assert.ok((lease.spec.leaseTransitions ?? 0) >= 1);
  });

  it('releases the lease on SIGTERM so the standby takes over without waiting for it to expire', async () => {
    const namespace = await createNamespace(env.client, 'release');
    // A lease far longer than the test's patience: only a release lets the standby in this quickly.
    const [leader, standby] = await electLeader(namespace, [
      '--leader-elect-lease-duration=300s',
      '--leader-elect-renew-deadline=200s',
      '--leader-elect-retry-period=1s',
    ]);
    await putConfigMap(namespace, 'one', { v: '1' });
    await observed(namespace, 'one', { v: '1' });

    leader.child.kill('SIGTERM');
    assert.deepEqual(await leader.exited, { code: 0, signal: null });
    assert.ok(leader.logs.some((line) => line.msg === 'released the lease'));
    const released = await env.client.get<Lease>(builtinResources.leases, 'fixture-lock', namespace);
    const standbyIdentity = await identityOf(standby);
    assert.ok(
      ['', standbyIdentity].includes(released.spec?.holderIdentity ?? ''),
      `holder after release: ${released.spec?.holderIdentity ?? '(none)'}`,
    );
    await leading(standby, 30_000);
    await putConfigMap(namespace, 'one', { v: '2' });
    await observed(namespace, 'one', { v: '2' });
  });

  it('exits at once when it loses the lease while draining on SIGTERM', async () => {
    const namespace = await createNamespace(env.client, 'drainlost');
    const leader = launch('draining', [
      ...baseArgs(env.kubeconfigPath, namespace),
      '--leader-election-id=fixture-lock',
      '--leader-elect-lease-duration=4s',
      '--leader-elect-renew-deadline=3s',
      '--leader-elect-retry-period=500ms',
      '--graceful-shutdown-timeout=5m',
    ]);
    await leading(leader);
    await putConfigMap(namespace, 'held', { hold: 'true' });
    await leader.waitForLog('a reconcile holding', (line) => line.msg === 'holding');
    leader.child.kill('SIGTERM');
    await leader.waitForLog('shutting down', (line) => line.msg === 'shutting down');

    // Another replica takes the lease while the held reconcile still runs: this one must stop now, not after
    // its drain, or both would write.
    await eventually('the lease taken (retried on a conflict with a renewal)', async () => {
      const lease = await env.client.get<Lease>(builtinResources.leases, 'fixture-lock', namespace);
      const renewTime = formatMicroTime(Date.now());
      const spec = { ...lease.spec, holderIdentity: 'another-replica', renewTime };
      return env.client.replace<Lease>(builtinResources.leases, { ...lease, spec });
    });
    const exit = await Promise.race([leader.exited, sleep(15_000).then(() => 'still draining')]);
    assert.deepEqual(exit, { code: 1, signal: null });
    assert.ok(
      leader.logs.some(
        (line) => line.msg === 'leader election lost; exiting so that only the new leader reconciles',
      ),
    );
    assert.ok(!leader.logs.some((line) => line.msg === 'released the lease'));
  });

  it(
    'keeps running while the API server is stopped, and reconciles what changed once it is back',
    { timeout: 240_000 },
    async () => {
      const namespace = await createNamespace(env.client, 'apiserver');
      // Without leader election: a leader that cannot renew for the renew deadline steps down and exits, as it
      // must, and this test is about riding out the outage.
      const operator = launch('solo', [...baseArgs(env.kubeconfigPath, namespace), '--leader-elect=false']);
      await putConfigMap(namespace, 'before', { v: '1' });
      await observed(namespace, 'before', { v: '1' });

      assert.equal(await stopControlPlane(), true);
      await operator.waitForLog('a failed list/watch', (line) => line.msg === 'list/watch failed; retrying');
      await ensureControlPlane();
      await putConfigMap(namespace, 'before', { v: '2' });
      await putConfigMap(namespace, 'after', { v: '1' });
      await observed(namespace, 'before', { v: '2' }, 90_000);
      await observed(namespace, 'after', { v: '1' }, 90_000);
      assert.equal(operator.child.exitCode, null, 'the operator is still running');
      assert.equal(await readyz(operator), 200);
    },
  );
});
