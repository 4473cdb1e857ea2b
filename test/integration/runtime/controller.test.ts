// The controller runtime in-process against the real API server: errors and retries, dedup under load,
// status conflicts, steady state without writes, owned and related objects, finalizers and events.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { KubeClient } from '../../../src/kube/client.ts';
import { isAlreadyExists, isConflict, isInvalid, isNotFound } from '../../../src/kube/errors.ts';
import type { KubeObject } from '../../../src/kube/object.ts';
import { keyOf, objectKey } from '../../../src/kube/object.ts';
import { apiVersionOf, builtinResources } from '../../../src/kube/resource.ts';
import { OperatorMetrics } from '../../../src/metrics/registry.ts';
import { setCondition } from '../../../src/runtime/conditions.ts';
import type { EventObject } from '../../../src/runtime/events.ts';
import { KubeEventRecorder, apiServerEventSink } from '../../../src/runtime/events.ts';
import {
  addFinalizer,
  hasFinalizer,
  isBeingDeleted,
  removeFinalizer,
} from '../../../src/runtime/finalizers.ts';
import { TerminalError } from '../../../src/runtime/controller.ts';
import type { Controller } from '../../../src/runtime/controller.ts';
import { Manager } from '../../../src/runtime/manager.ts';
import type { InformerTuning } from '../../../src/runtime/informer.ts';
import { updateStatus } from '../../../src/runtime/status.ts';
import type { ConfigMap } from '../../fixtures/fixture-controller.ts';
import {
  countingClientFor,
  createNamespace,
  eventually,
  kubeconfigVia,
  metricValue,
  recordingLogger,
  runtimeTestEnv,
} from '../../fixtures/runtime-env.ts';
import type { RuntimeTestEnv } from '../../fixtures/runtime-env.ts';
import { startTcpProxy } from '../../fixtures/tcp-proxy.ts';
import { ensureWidgetCrd, widgets } from '../../fixtures/widgets.ts';
import type { Widget, WidgetStatus } from '../../fixtures/widgets.ts';

const configMaps = builtinResources.configMaps;
const secrets = builtinResources.secrets;
const testLabel = 'rt.keyward.io/test';

describe('controller runtime against a real API server', () => {
  let env: RuntimeTestEnv;
  let namespace: string;
  const managers: Manager[] = [];

  const startManager = (
    add: (manager: Manager) => void,
    informerTuning: InformerTuning = {},
    kubeconfigPath = env.kubeconfigPath,
  ): { manager: Manager; metrics: OperatorMetrics; client: KubeClient } => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    const client = countingClientFor(kubeconfigPath, metrics);
    const manager = new Manager({
      client,
      log: recordingLogger().log,
      metrics,
      watchNamespace: namespace,
      informerTuning,
      eventController: 'keyward.io/runtime-test',
      eventInstance: 'test',
    });
    add(manager);
    manager.start();
    managers.push(manager);
    return { manager, metrics, client };
  };

  const configMap = (name: string, label: string, data: Record<string, string> = {}): ConfigMap => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace, labels: { [testLabel]: label } },
    data,
  });

  before(async () => {
    env = await runtimeTestEnv();
    await ensureWidgetCrd(env.client);
    namespace = await createNamespace(env.client, 'controller');
  });

  after(async () => {
    await Promise.all(managers.map((manager) => manager.stop()));
  });

  it('counts a throw in a reconcile as an error and a panic, retries it, and keeps running', async () => {
    let calls = 0;
    const { metrics } = startManager((manager) => {
      manager.addController<ConfigMap>({
        name: 'throwing',
        resource: configMaps,
        labelSelector: `${testLabel}=throw`,
        async reconcile(object, { client }) {
          calls += 1;
          if (calls <= 2) throw new TypeError('simulated bug');
          const { name = '', namespace: ns } = object.metadata;
          await client.patch(configMaps, name, ns, 'merge', { metadata: { annotations: { done: 'yes' } } });
          return {};
        },
      });
    });
    await env.client.create(configMaps, configMap('throw', 'throw'));
    await eventually('the third attempt to succeed', async () => {
      const object = await env.client.get<ConfigMap>(configMaps, 'throw', namespace);
      return object.metadata.annotations?.done === 'yes';
    });
    const labels = { controller: 'throwing' };
    assert.equal(await metricValue(metrics, 'controller_runtime_reconcile_errors_total', labels), 2);
    assert.equal(await metricValue(metrics, 'controller_runtime_reconcile_panics_total', labels), 2);
    assert.equal(await metricValue(metrics, 'controller_runtime_terminal_reconcile_errors_total', labels), 0);
    assert.equal(
      await metricValue(metrics, 'controller_runtime_reconcile_total', { ...labels, result: 'error' }),
      2,
    );
    const retries = await metricValue(metrics, 'workqueue_retries_total', { name: 'throwing' });
    assert.ok(retries !== undefined && retries >= 2, `retries ${retries}`);
    await eventually('a success to be counted', async () => {
      const successes = await metricValue(metrics, 'controller_runtime_reconcile_total', {
        ...labels,
        result: 'success',
      });
      return successes !== undefined && successes >= 1;
    });
  });

  it('gives at most 2 reconciles for 1,000 enqueues of one key during a slow reconcile', async () => {
    let calls = 0;
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let firstStarted = (): void => undefined;
    const started = new Promise<void>((resolve) => (firstStarted = resolve));
    let controller: ReturnType<Manager['addController']> | undefined;
    const { metrics } = startManager((manager) => {
      controller = manager.addController<ConfigMap>({
        name: 'slow',
        resource: configMaps,
        labelSelector: `${testLabel}=slow`,
        workers: 4,
        async reconcile() {
          calls += 1;
          if (calls === 1) {
            firstStarted();
            await gate;
          }
          return {};
        },
      });
    });
    await env.client.create(configMaps, configMap('slow', 'slow'));
    await started;
    for (let i = 0; i < 1000; i++) controller?.enqueue(keyOf(namespace, 'slow'));
    release();
    await eventually('the re-run', () => calls === 2);
    await eventually('the queue to be idle', async () => {
      const depth = await metricValue(metrics, 'workqueue_depth', { name: 'slow' });
      const active = await metricValue(metrics, 'controller_runtime_active_workers', { controller: 'slow' });
      return depth === 0 && active === 0;
    });
    assert.equal(calls, 2);
    assert.ok(((await metricValue(metrics, 'workqueue_adds_total', { name: 'slow' })) ?? 0) <= 3);
  });

  it('does not retry a terminal error, and counts it', async () => {
    let calls = 0;
    const { metrics } = startManager((manager) => {
      manager.addController<ConfigMap>({
        name: 'terminal',
        resource: configMaps,
        labelSelector: `${testLabel}=terminal`,
        reconcile() {
          calls += 1;
          return Promise.reject(new TerminalError('spec.size must be positive'));
        },
      });
    });
    await env.client.create(configMaps, configMap('terminal', 'terminal'));
    const labels = { controller: 'terminal' };
    await eventually('the terminal error to be counted', async () => {
      return (await metricValue(metrics, 'controller_runtime_terminal_reconcile_errors_total', labels)) === 1;
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(calls, 1, 'not retried');
    assert.equal(await metricValue(metrics, 'controller_runtime_reconcile_errors_total', labels), 1);
    assert.equal(await metricValue(metrics, 'workqueue_retries_total', { name: 'terminal' }), 0);

    // A change to the object is a new chance.
    await env.client.patch(configMaps, 'terminal', namespace, 'merge', { data: { size: '1' } });
    await eventually('a reconcile of the changed object', () => calls === 2);
  });

  it('lets in-flight reconciles finish when stopped, and takes no new work', async () => {
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let running = (): void => undefined;
    const started = new Promise<void>((resolve) => (running = resolve));
    const finished: string[] = [];
    const { manager } = startManager((manager) => {
      manager.addController<ConfigMap>({
        name: 'draining',
        resource: configMaps,
        labelSelector: `${testLabel}=drain`,
        async reconcile(object) {
          running();
          await gate;
          finished.push(object.metadata.name ?? '');
          return {};
        },
      });
    });
    await env.client.create(configMaps, configMap('drain-1', 'drain'));
    await started;
    let stopped = false;
    const stopping = manager.stop().then(() => (stopped = true));
    await env.client.create(configMaps, configMap('drain-2', 'drain'));
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(stopped, false, 'stop waits for the running reconcile');
    release();
    await stopping;
    assert.deepEqual(finished, ['drain-1']);
  });

  it('retries a status write that got 409 Conflict and ends with the latest generation observed', async () => {
    let attempts = 0;
    let conflicts = 0;
    const { metrics } = startManager((manager) => {
      manager.addController<Widget>({
        name: 'conflicting',
        resource: widgets,
        labelSelector: `${testLabel}=conflict`,
        async reconcile(widget, { client, clock }) {
          attempts += 1;
          const { name = '', namespace: ns, generation } = widget.metadata;
          if (attempts === 1) {
            // Another writer changes the object after this reconcile read it.
            await client.patch(widgets, name, ns, 'merge', { spec: { size: 2 } });
          }
          const status: WidgetStatus = {
            observedGeneration: generation,
            conditions: setCondition(
              widget.status?.conditions,
              {
                type: 'Ready',
                status: 'True',
                reason: 'Reconciled',
                message: '',
                observedGeneration: generation,
              },
              clock.now(),
            ),
          };
          try {
            await updateStatus(client, widgets, widget, status);
          } catch (err) {
            if (isConflict(err)) conflicts += 1;
            throw err;
          }
          return {};
        },
      });
    });
    await env.client.create<Widget>(widgets, {
      apiVersion: apiVersionOf(widgets),
      kind: 'Widget',
      metadata: { name: 'conflict', namespace, labels: { [testLabel]: 'conflict' } },
      spec: { size: 1 },
    });
    const widget = await eventually('the status to observe generation 2', async () => {
      const current = await env.client.get<Widget>(widgets, 'conflict', namespace);
      return current.status?.observedGeneration === 2 ? current : undefined;
    });
    assert.equal(widget.metadata.generation, 2);
    assert.equal(widget.status?.conditions?.[0]?.status, 'True');
    // The retry may still read the stale cache once more before the watch delivers generation 2.
    assert.ok(conflicts >= 1);
    const errors = await metricValue(metrics, 'controller_runtime_reconcile_errors_total', {
      controller: 'conflicting',
    });
    assert.equal(errors, conflicts, 'every conflict was counted as an error and retried');
  });

  it('does not start a reconcile from a version its own write has replaced', async () => {
    // The manager's watch goes through a proxy that is frozen during the write: the cache keeps the old version
    // (a watch lagging behind the write, as under load) while the key is queued again.
    const upstream = new URL(env.server);
    const proxy = await startTcpProxy(upstream.hostname, Number(upstream.port));
    const startedFrom: string[] = [];
    let replaced = '';
    try {
      startManager(
        (m) => {
          const controller: Controller<Widget> = m.addController<Widget>({
            name: 'superseding',
            resource: widgets,
            labelSelector: `${testLabel}=supersede`,
            async reconcile(widget, context) {
              startedFrom.push(widget.metadata.resourceVersion ?? '');
              if (widget.status?.observedGeneration !== undefined) return {};
              proxy.freezeOpenConnections();
              await updateStatus(env.client, widgets, widget, { observedGeneration: 1 });
              context.superseded(widget);
              replaced = widget.metadata.resourceVersion ?? '';
              controller.enqueue(objectKey(widget));
              return {};
            },
          });
        },
        {},
        kubeconfigVia(env, proxy.address),
      );
      await env.client.create<Widget>(widgets, {
        apiVersion: apiVersionOf(widgets),
        kind: 'Widget',
        metadata: { name: 'supersede', namespace, labels: { [testLabel]: 'supersede' } },
        spec: { size: 1 },
      });
      await eventually('the status write', () => (replaced === '' ? undefined : true));
      await new Promise((resolve) => setTimeout(resolve, 500));
      proxy.cut(); // the watch starts again and brings the write
      await eventually('a reconcile of the written version', () =>
        startedFrom.some((version) => version !== replaced) ? true : undefined,
      );
      assert.deepEqual(
        startedFrom.filter((version) => version === replaced),
        [replaced],
        'the version the write replaced was reconciled once, by the reconcile that wrote',
      );
    } finally {
      await proxy.close();
    }
  });

  it(
    'writes nothing over 60 s in steady state; reacts to owned and related objects; finalizes on delete',
    { timeout: 180_000 },
    async () => {
      const finalizer = 'rt.keyward.io/cleanup';
      const childLabel = 'rt.keyward.io/child';
      let reconciles = 0;
      const { manager, metrics } = startManager(
        (manager) => {
          const children = manager.informer<ConfigMap>({
            resource: configMaps,
            labelSelector: `${childLabel}=true`,
          });
          const secretCache = manager.informer<KubeObject>({ resource: secrets });
          const controller: Controller<Widget> = manager.addController<Widget>({
            name: 'widget',
            resource: widgets,
            labelSelector: `${testLabel}=steady`,
            owns: [{ resource: configMaps, labelSelector: `${childLabel}=true` }],
            watches: [
              {
                resource: secrets,
                map: (secret) => controller.informer.byIndex('secret', objectKey(secret)).map(objectKey),
              },
            ],
            async reconcile(widget, { client, clock, recorder }) {
              reconciles += 1;
              const { name = '', namespace: ns = '', generation, uid = '' } = widget.metadata;
              if (isBeingDeleted(widget)) {
                await removeFinalizer(client, widgets, widget, finalizer);
                return {};
              }
              if (!hasFinalizer(widget, finalizer)) {
                await addFinalizer(client, widgets, widget, finalizer);
                return {};
              }
              if (!children.get(ns, `${name}-child`)) {
                try {
                  await client.create<ConfigMap>(configMaps, {
                    apiVersion: 'v1',
                    kind: 'ConfigMap',
                    metadata: {
                      name: `${name}-child`,
                      namespace: ns,
                      labels: { [childLabel]: 'true' },
                      ownerReferences: [
                        { apiVersion: apiVersionOf(widgets), kind: 'Widget', name, uid, controller: true },
                      ],
                    },
                    data: { size: String(widget.spec.size ?? 0) },
                  });
                  recorder.record(widget, { type: 'Normal', reason: 'ChildCreated', action: 'Create' });
                } catch (err) {
                  if (!isAlreadyExists(err)) throw err;
                }
              }
              const secret = widget.spec.secretName ? secretCache.get(ns, widget.spec.secretName) : undefined;
              await updateStatus(client, widgets, widget, {
                observedGeneration: generation,
                secretResourceVersion: secret?.metadata.resourceVersion,
                conditions: setCondition(
                  widget.status?.conditions,
                  {
                    type: 'Ready',
                    status: secret ? 'True' : 'False',
                    reason: secret ? 'Ready' : 'SecretMissing',
                    message: '',
                    observedGeneration: generation,
                  },
                  clock.now(),
                ),
              });
              return { requeueAfter: 1000 };
            },
          });
          controller.informer.addIndex('secret', (widget: Widget) =>
            widget.spec.secretName ? [keyOf(widget.metadata.namespace ?? '', widget.spec.secretName)] : [],
          );
        },
        // Watches end and relists happen several times during the quiet minute.
        { relistPeriodMs: 15_000, watchTimeoutSeconds: [5, 10] },
      );
      await env.client.create(secrets, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'steady-secret', namespace },
        data: { token: Buffer.from('one').toString('base64') },
      });
      await env.client.create<Widget>(widgets, {
        apiVersion: apiVersionOf(widgets),
        kind: 'Widget',
        metadata: { name: 'steady', namespace, labels: { [testLabel]: 'steady' } },
        spec: { size: 3, secretName: 'steady-secret' },
      });
      const converged = await eventually('the widget to be Ready', async () => {
        const widget = await env.client.get<Widget>(widgets, 'steady', namespace);
        return widget.status?.conditions?.[0]?.status === 'True' ? widget : undefined;
      });
      const child = await env.client.get<ConfigMap>(configMaps, 'steady-child', namespace);
      const writes = async (): Promise<number> => {
        let total = 0;
        for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
          total += (await metricValue(metrics, 'rest_client_requests_total', { method })) ?? 0;
        }
        return total;
      };
      // Let the event recorder and any in-flight reconcile settle before counting.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const writesBefore = await writes();
      const reconcilesBefore = reconciles;

      await new Promise((resolve) => setTimeout(resolve, 60_000));

      assert.equal((await writes()) - writesBefore, 0, 'API writes during the quiet minute');
      assert.ok(reconciles - reconcilesBefore >= 20, `only ${reconciles - reconcilesBefore} reconciles ran`);
      const after = await env.client.get<Widget>(widgets, 'steady', namespace);
      assert.equal(after.metadata.resourceVersion, converged.metadata.resourceVersion);
      const childAfter = await env.client.get<ConfigMap>(configMaps, 'steady-child', namespace);
      assert.equal(childAfter.metadata.resourceVersion, child.metadata.resourceVersion);
      assert.ok(manager.ready);

      // An owned object deleted behind the controller's back is recreated.
      await env.client.delete(configMaps, 'steady-child', namespace);
      await eventually('the child to be recreated', async () => {
        const recreated = await env.client.get<ConfigMap>(configMaps, 'steady-child', namespace);
        return recreated.metadata.uid !== child.metadata.uid;
      });

      // A change to a related Secret reaches the widget that references it.
      const secret = await env.client.patch<KubeObject>(secrets, 'steady-secret', namespace, 'merge', {
        data: { token: Buffer.from('two').toString('base64') },
      });
      await eventually('the widget status to follow the Secret', async () => {
        const widget = await env.client.get<Widget>(widgets, 'steady', namespace);
        return widget.status?.secretResourceVersion === secret.metadata.resourceVersion;
      });

      // The two ChildCreated events became one events.k8s.io/v1 Event with a series of 2.
      const created = await eventually('the ChildCreated series', async () => {
        const events = await env.client.list<EventObject>(builtinResources.events, { namespace });
        const found = events.items.filter(
          (e) => e.reason === 'ChildCreated' && e.regarding.name === 'steady',
        );
        return found.length === 1 && found[0]?.series?.count === 2 ? found[0] : undefined;
      });
      assert.match(created.eventTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

      // Deletion waits for the finalizer, which the controller removes.
      await env.client.delete(widgets, 'steady', namespace);
      await eventually('the widget to be gone', async () => {
        try {
          await env.client.get(widgets, 'steady', namespace);
          return false;
        } catch (err) {
          return isNotFound(err);
        }
      });
    },
  );

  it('folds repeated events into a series the API server accepts', async () => {
    const recorder = new KubeEventRecorder({
      sink: apiServerEventSink(env.client),
      controller: 'keyward.io/runtime-test',
      instance: 'test',
    });
    const regarding = await env.client.create(configMaps, configMap('evented', 'none'));
    for (let i = 0; i < 3; i++) {
      recorder.record(regarding, { type: 'Warning', reason: 'Repeated', action: 'Test', note: 'same thing' });
      await recorder.flush();
    }
    await recorder.stop();
    const events = await env.client.list<EventObject>(builtinResources.events, { namespace });
    const repeated = events.items.filter((event) => event.reason === 'Repeated');
    assert.equal(repeated.length, 1);
    const [event] = repeated;
    assert.ok(event?.series);
    assert.equal(event.series.count, 3);
    assert.match(event.series.lastObservedTime, /\.\d{6}Z$/);
  });

  it('adds and removes finalizers with a JSON Patch whose test op catches a concurrent change', async () => {
    const object = await env.client.create(configMaps, configMap('finalized', 'none'));
    const first = await addFinalizer(env.client, configMaps, object, 'a.keyward.io/one');
    assert.ok(first);
    assert.deepEqual(first.metadata.finalizers, ['a.keyward.io/one']);
    assert.equal(await addFinalizer(env.client, configMaps, first, 'a.keyward.io/one'), undefined);

    // Someone else adds a finalizer; our view (`first`) is now stale.
    await env.client.patch(configMaps, 'finalized', namespace, 'json', [
      { op: 'add', path: '/metadata/finalizers/-', value: 'b.keyward.io/other' },
    ]);
    await assert.rejects(addFinalizer(env.client, configMaps, first, 'a.keyward.io/two'), (err) =>
      isInvalid(err),
    );
    const current = await env.client.get<ConfigMap>(configMaps, 'finalized', namespace);
    const removed = await removeFinalizer(env.client, configMaps, current, 'a.keyward.io/one');
    assert.ok(removed);
    assert.deepEqual(removed.metadata.finalizers, ['b.keyward.io/other']);
    await removeFinalizer(env.client, configMaps, removed, 'b.keyward.io/other');
  });
});
