// The controller loop, generic over any resource: informer events only enqueue keys; N workers take keys
// from the work queue and call the reconciler with the cached object. The reconciler converges the world
// to the object (level-triggered) and returns `{ requeueAfter }` to be called again later, or throws:
// - a TerminalError is counted and not retried (the object cannot make progress until it changes);
// - any other throw is counted, logged and retried with per-item exponential backoff under a global
//   token bucket. A programming fault (TypeError, ...) is also counted as a panic; it never stops the loop.

import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

import { describeError } from '../log.ts';
import type { Logger } from '../log.ts';
import type { ApiAccess } from '../kube/access.ts';
import type { KubeClient } from '../kube/client.ts';
import { isConflict } from '../kube/errors.ts';
import type { KubeObject } from '../kube/object.ts';
import { keyOf, objectKey, splitKey } from '../kube/object.ts';
import type { ResourceType } from '../kube/resource.ts';
import type { ControllerMetrics, OperatorMetrics } from '../metrics/registry.ts';
import type { Clock } from './clock.ts';
import type { EventRecorder } from './events.ts';
import type { Informer } from './informer.ts';
import type { RateLimiter } from './ratelimiter.ts';
import { WorkQueue } from './workqueue.ts';

export interface ReconcileContext {
  /** Logger with controller, namespace, name and reconcileId. */
  readonly log: Logger;
  readonly recorder: EventRecorder;
  /** The time source for every time-based decision (rotation schedules), injectable in tests. */
  readonly clock: Clock;
  readonly client: KubeClient;
  readonly reconcileId: string;
  /**
   * Says this reconcile's own write moved the object past `object`'s resourceVersion. Until the watch brings the
   * write, the cache still holds the old version: a reconcile queued meanwhile (by the events of the reconcile's
   * earlier writes) would redo work from stale data and end in a 409, so it is skipped, and the write's own watch
   * event queues the next one.
   */
  superseded(object: KubeObject): void;
}

/** What a reconcile returns: `{}` when done. */
export interface ReconcileResult {
  /** Reconcile this object again after this many milliseconds (even if nothing changes). */
  requeueAfter?: number;
}

export type Reconciler<T extends KubeObject> = (
  object: T,
  context: ReconcileContext,
) => Promise<ReconcileResult>;

/** An error that retrying cannot fix (an invalid spec, say): counted, reported, not retried. */
export class TerminalError extends Error {
  override readonly name = 'TerminalError';
}

export interface WatchSource {
  resource: ResourceType;
  /** Only objects matching this label selector are watched (and cached). */
  labelSelector?: string;
  /** Watch one namespace instead of the operator's watch namespace. */
  namespace?: string;
}

export interface RelatedWatch extends WatchSource {
  /** Keys ("namespace/name") of the primary objects to reconcile when this object changes. */
  map(object: KubeObject): Iterable<string>;
}

export interface ControllerDefinition<T extends KubeObject> {
  /** Names the controller in logs and metrics (lower case, e.g. "managedkey"). */
  name: string;
  resource: ResourceType;
  reconcile: Reconciler<T>;
  /** Concurrent reconciles (never two of the same object). Default 1. */
  workers?: number;
  labelSelector?: string;
  /** Kinds this controller creates with a controller ownerReference: a change enqueues the owner. */
  owns?: WatchSource[];
  /** Other objects that affect the primary ones (Secrets, backends), mapped to primary keys. */
  watches?: RelatedWatch[];
  rateLimiter?: RateLimiter;
  /** What the reconciler reads and writes through the API beyond its informers' caches (the chart's RBAC). */
  access?: readonly ApiAccess[];
}

/** What the manager provides to a controller. */
export interface ControllerDependencies {
  informer<O extends KubeObject>(source: WatchSource): Informer<O>;
  client: KubeClient;
  recorder: EventRecorder;
  clock: Clock;
  log: Logger;
  metrics: OperatorMetrics;
}

const programmingFaults = [TypeError, ReferenceError, RangeError, SyntaxError];

export class Controller<T extends KubeObject> {
  readonly name: string;
  readonly informer: Informer<T>;
  readonly #definition: ControllerDefinition<T>;
  readonly #deps: ControllerDependencies;
  readonly #queue: WorkQueue;
  readonly #metrics: ControllerMetrics;
  readonly #log: Logger;
  #workers: Promise<void>[] = [];
  #started = false;
  /** Per key, the resourceVersions this controller's reconciles wrote past, until the cache holds a later one. */
  readonly #superseded = new Map<string, Set<string>>();

  constructor(definition: ControllerDefinition<T>, deps: ControllerDependencies) {
    this.name = definition.name;
    this.#definition = definition;
    this.#deps = deps;
    this.#log = deps.log.child({ controller: definition.name });
    this.#metrics = deps.metrics.controller(definition.name);
    const queueMetrics = deps.metrics.workQueue(definition.name, {
      get length() {
        return queue.length;
      },
      processingStartTimes: () => queue.processingStartTimes(),
    });
    // The queue measures real elapsed time; deps.clock may be a test's simulated calendar.
    const queue = new WorkQueue({
      ...(definition.rateLimiter ? { rateLimiter: definition.rateLimiter } : {}),
      hooks: queueMetrics,
    });
    this.#queue = queue;

    this.informer = deps.informer<T>({
      resource: definition.resource,
      labelSelector: definition.labelSelector,
    });
    this.informer.addHandlers({
      add: (object) => {
        this.#enqueue(objectKey(object));
      },
      update: (_old, object) => {
        this.#enqueue(objectKey(object));
      },
      delete: (object) => {
        this.#enqueue(objectKey(object));
      },
    });
    for (const owned of definition.owns ?? []) {
      this.#watchRelated(owned, (object) => this.#ownerKeys(object));
    }
    for (const related of definition.watches ?? []) {
      this.#watchRelated(related, (object) => related.map(object));
    }
  }

  /** Starts the workers; every cached object is reconciled once (level-triggered start). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const workers = Math.max(1, this.#definition.workers ?? 1);
    this.#metrics.setWorkers(workers);
    for (const key of this.informer.keys()) this.#queue.add(key);
    this.#log.info('starting workers', { workers, objects: this.informer.keys().length });
    this.#workers = Array.from({ length: workers }, () => this.#work());
  }

  /** Stops taking keys and waits for the reconciles in flight. */
  async stop(): Promise<void> {
    this.#queue.shutDown();
    await Promise.all(this.#workers);
  }

  /** Stops taking keys without waiting (leadership lost: another replica may already be reconciling). */
  abandon(): void {
    this.#queue.shutDown();
  }

  /** Queues a key ("namespace/name") for reconciliation. */
  enqueue(key: string): void {
    this.#enqueue(key);
  }

  #enqueue(key: string): void {
    if (this.#started) this.#queue.add(key);
  }

  #watchRelated(source: WatchSource, keysOf: (object: KubeObject) => Iterable<string>): void {
    const informer = this.#deps.informer<KubeObject>(source);
    const enqueueAll = (object: KubeObject): void => {
      for (const key of keysOf(object)) this.#enqueue(key);
    };
    informer.addHandlers({
      add: enqueueAll,
      update: (old, object) => {
        enqueueAll(old);
        enqueueAll(object);
      },
      delete: enqueueAll,
    });
  }

  /** The primary object that controls `object` through a controller ownerReference, if any. */
  #ownerKeys(object: KubeObject): string[] {
    const { group, kind, namespaced } = this.#definition.resource;
    return (object.metadata.ownerReferences ?? [])
      .filter((ref) => ref.controller === true && ref.kind === kind && groupOf(ref.apiVersion) === group)
      .map((ref) => keyOf(namespaced ? (object.metadata.namespace ?? '') : '', ref.name));
  }

  async #work(): Promise<void> {
    for (;;) {
      // A turn of the event loop between two reconciles: a reconcile that awaits only work already done (a backend
      // answering from memory, a session free at once) continues in microtasks, and 16 workers through 10,000 queued
      // keys would otherwise hold off every timer and socket (the Lease renewal among them) until the queue is empty.
      await yieldToEventLoop();
      const key = await this.#queue.get();
      if (key === undefined) return;
      this.#metrics.activeWorkers(1);
      try {
        await this.#reconcileKey(key);
      } finally {
        this.#metrics.activeWorkers(-1);
        this.#queue.done(key);
      }
    }
  }

  async #reconcileKey(key: string): Promise<void> {
    const object = this.informer.getByKey(key);
    if (!object) {
      // Deleted (its finalizers, if any, already ran): nothing is left to converge.
      this.#queue.forget(key);
      this.#superseded.delete(key);
      return;
    }
    const version = object.metadata.resourceVersion ?? '';
    if (this.#superseded.get(key)?.has(version)) return;
    this.#superseded.delete(key);
    const { namespace, name } = splitKey(key);
    const reconcileId = randomUUID();
    const log = this.#log.child({ ...(namespace ? { namespace } : {}), name, reconcileId });
    const context: ReconcileContext = {
      log,
      recorder: this.#deps.recorder,
      clock: this.#deps.clock,
      client: this.#deps.client,
      reconcileId,
      superseded: (old) => {
        const versions = this.#superseded.get(key) ?? new Set<string>();
        versions.add(old.metadata.resourceVersion ?? '');
        this.#superseded.set(key, versions);
      },
    };
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    try {
      const result = await this.#definition.reconcile(object, context);
      this.#queue.forget(key);
      const requeueAfter = result.requeueAfter ?? 0;
      if (requeueAfter > 0) {
        this.#queue.addAfter(key, requeueAfter);
        this.#metrics.reconciled('requeue_after', seconds());
      } else {
        this.#metrics.reconciled('success', seconds());
      }
      log.debug('reconciled', { requeueAfterMs: requeueAfter || undefined });
    } catch (err) {
      const terminal = err instanceof TerminalError;
      const panic = programmingFaults.some((fault) => err instanceof fault) || !(err instanceof Error);
      this.#metrics.reconciled('error', seconds());
      this.#metrics.failed({ terminal, panic });
      if (terminal) {
        this.#queue.forget(key);
        log.error('reconcile failed; not retrying until the object changes', { err: describeError(err) });
        return;
      }
      this.#queue.addRateLimited(key);
      const fields = { err: describeError(err), retries: this.#queue.numRequeues(key) };
      if (isConflict(err)) log.info('reconcile raced with another write; retrying', fields);
      else if (panic) log.error('reconcile crashed; retrying', { ...fields, stack: stackOf(err) });
      else log.error('reconcile failed; retrying', fields);
    }
  }
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

function stackOf(err: unknown): string | undefined {
  return err instanceof Error ? err.stack : undefined;
}
