import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { OperatorMetrics } from '../../../src/metrics/registry.ts';

describe('operator metrics', () => {
  it("exposes controller-runtime's names and labels", async () => {
    let now = 10_000;
    const metrics = new OperatorMetrics({ now: () => now });
    const controller = metrics.controller('managedkey');
    const queue = metrics.workQueue('managedkey', { length: 3, processingStartTimes: () => [4000, 7000] });
    controller.setWorkers(4);
    controller.activeWorkers(1);
    controller.reconciled('success', 0.02);
    controller.reconciled('error', 0.5);
    controller.failed({ terminal: true, panic: false });
    queue.added();
    queue.retried();
    queue.taken(0.001);
    queue.finished(0.2);
    metrics.setLeader('keyward-operator.keyward.io', true);
    now = 10_000;
    const { body } = await metrics.exposition();
    const expected = [
      'controller_runtime_reconcile_total{controller="managedkey",result="success"} 1',
      'controller_runtime_reconcile_total{controller="managedkey",result="error"} 1',
      'controller_runtime_reconcile_total{controller="managedkey",result="requeue_after"} 0',
      'controller_runtime_reconcile_errors_total{controller="managedkey"} 1',
      'controller_runtime_terminal_reconcile_errors_total{controller="managedkey"} 1',
      'controller_runtime_reconcile_panics_total{controller="managedkey"} 0',
      'controller_runtime_reconcile_time_seconds_bucket{le="0.025",controller="managedkey"} 1',
      'controller_runtime_reconcile_time_seconds_bucket{le="60",controller="managedkey"} 2',
      'controller_runtime_max_concurrent_reconciles{controller="managedkey"} 4',
      'controller_runtime_active_workers{controller="managedkey"} 1',
      'workqueue_depth{name="managedkey",controller="managedkey",priority=""} 3',
      'workqueue_adds_total{name="managedkey",controller="managedkey"} 1',
      'workqueue_retries_total{name="managedkey",controller="managedkey"} 1',
      'workqueue_queue_duration_seconds_bucket{le="0.001",name="managedkey",controller="managedkey"} 1',
      'workqueue_work_duration_seconds_bucket{le="1",name="managedkey",controller="managedkey"} 1',
      'workqueue_unfinished_work_seconds{name="managedkey",controller="managedkey"} 9',
      'workqueue_longest_running_processor_seconds{name="managedkey",controller="managedkey"} 6',
      'leader_election_master_status{name="keyward-operator.keyward.io"} 1',
    ];
    for (const line of expected) assert.ok(body.includes(line), `missing: ${line}`);
    assert.match(body, /^process_cpu_user_seconds_total \d/m);
    assert.match(body, /^process_resident_memory_bytes \d/m);
  });

  it('computes scrape-time gauges on each scrape, dropping label sets that are gone', async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    let keys = [
      { labels: { phase: 'Active' }, value: 2 },
      { labels: { phase: 'Failed' }, value: 1 },
    ];
    metrics.scrapeTimeGauge({
      name: 'keyward_managed_keys',
      help: 'ManagedKeys by phase',
      labelNames: ['phase'],
      collect: () => keys,
    });
    assert.match((await metrics.exposition()).body, /keyward_managed_keys\{phase="Failed"\} 1/);
    keys = [{ labels: { phase: 'Active' }, value: 3 }];
    const { body } = await metrics.exposition();
    assert.match(body, /keyward_managed_keys\{phase="Active"\} 3/);
    assert.doesNotMatch(body, /phase="Failed"/);
  });
});
