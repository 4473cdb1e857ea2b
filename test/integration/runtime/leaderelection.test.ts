// The lease protocol itself against the real API server: a valid foreign lease is respected, an expired one
// is taken over, a leader whose lease is taken away steps down, and a release empties the holder.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { builtinResources } from '../../../src/kube/resource.ts';
import { formatMicroTime } from '../../../src/runtime/clock.ts';
import { LeaderElector } from '../../../src/runtime/leaderelection.ts';
import type { Lease } from '../../../src/runtime/leaderelection.ts';
import { createNamespace, eventually, recordingLogger, runtimeTestEnv } from '../../fixtures/runtime-env.ts';
import type { RuntimeTestEnv } from '../../fixtures/runtime-env.ts';

const leases = builtinResources.leases;
const timing = { leaseDurationMs: 5_000, renewDeadlineMs: 2_000, retryPeriodMs: 200 };

describe('leader election on a Lease', () => {
  let env: RuntimeTestEnv;
  let namespace: string;
  const electors: LeaderElector[] = [];

  const elector = (name: string, identity: string): LeaderElector => {
    const created = new LeaderElector({
      ...timing,
      client: env.client,
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
