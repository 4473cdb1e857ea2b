// An informer: a local cache of one resource kept current by list + watch, with event handlers.
//
// client-node's informer stops for good on most errors and its start() resolves even when the first list
// failed. This one never gives up while it runs:
// - any failure (network, 5xx, 403, a watch ERROR) restarts list/watch after an exponential backoff with jitter;
// - 410 Gone (the resourceVersion fell out of the watch window) relists at once;
// - a watch that delivers nothing (not even a bookmark) for `staleWatchMs` is treated as dead and restarted,
//   which catches half-open connections that never deliver a FIN;
// - a periodic relist (jittered) repairs anything a watch could have missed;
// - `synced` becomes true only after a list has really succeeded and filled the cache.

import { describeError, silentLogger } from '../log.ts';
import type { Logger } from '../log.ts';
import type { KubeClient, WatchStatus } from '../kube/client.ts';
import { KubeApiError, isGone, statusCode } from '../kube/errors.ts';
import type { KubeObject } from '../kube/object.ts';
import { keyOf, objectKey } from '../kube/object.ts';
import type { ResourceType } from '../kube/resource.ts';
import { describeResource } from '../kube/resource.ts';
import { Backoff, sleep } from './backoff.ts';
import type { BackoffOptions } from './backoff.ts';

export interface InformerHandlers<T> {
  add?(object: T): void;
  update?(oldObject: T, newObject: T): void;
  delete?(object: T): void;
}

export interface InformerTuning {
  /** A watch silent (no event, no bookmark) for this long is restarted. */
  staleWatchMs?: number;
  /** Full relist period; each period is jittered by up to +20%. 0 disables. */
  relistPeriodMs?: number;
  /** Server-side watch timeout range [min, max) in seconds, chosen at random per watch (client-go: 5-10 min). */
  watchTimeoutSeconds?: readonly [number, number];
  /**
   * Backoff after failures: 800 ms doubling to 15 s, each stretched by up to 100% jitter, so at most 30 s
   * pass between attempts (client-go's reflector caps at 30 s before jitter, up to 60 s).
   */
  backoff?: BackoffOptions;
}

export interface InformerOptions extends InformerTuning {
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  log?: Logger;
}

// The API server sends a bookmark on every watch about once a minute, so two missed bookmarks mean trouble.
const defaultTuning: Required<InformerTuning> = {
  staleWatchMs: 150_000,
  relistPeriodMs: 30 * 60_000,
  watchTimeoutSeconds: [300, 600],
  backoff: { initialMs: 800, maxMs: 15_000, factor: 2, jitter: 1 },
};

type WatchEnd = 'closed' | 'stale' | 'relist' | 'gone';

export class Informer<T extends KubeObject> {
  readonly resource: ResourceType;
  readonly #client: KubeClient;
  readonly #options: InformerOptions;
  readonly #tuning: Required<InformerTuning>;
  readonly #log: Logger;
  readonly #cache = new Map<string, T>();
  readonly #handlers: InformerHandlers<T>[] = [];
  readonly #indexes = new Map<
    string,
    { keysOf: (object: T) => string[]; entries: Map<string, Set<string>> }
  >();
  #resourceVersion = '';
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #stop: AbortController | undefined;
  #running: Promise<void> | undefined;
  #currentWatch: { abort: AbortController; end?: WatchEnd } | undefined;
  #relistTimer: NodeJS.Timeout | undefined;
  #relistDue = false;

  constructor(client: KubeClient, resource: ResourceType, options: InformerOptions = {}) {
    this.#client = client;
    this.resource = resource;
    this.#options = options;
    this.#tuning = { ...defaultTuning, ...definedOnly(options) };
    this.#log = (options.log ?? silentLogger).child({
      informer: describeResource(resource),
      ...(options.namespace ? { watchNamespace: options.namespace } : {}),
      ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
    });
  }

  /** Handlers see every later change; add them before start() to also see the initial list as adds. */
  addHandlers(handlers: InformerHandlers<T>): void {
    this.#handlers.push(handlers);
  }

  /** An index over the cache: `keysOf(object)` says under which values an object is found by byIndex(). */
  addIndex(name: string, keysOf: (object: T) => string[]): void {
    if (this.#indexes.has(name)) throw new Error(`index ${name} already exists`);
    const index = { keysOf, entries: new Map<string, Set<string>>() };
    this.#indexes.set(name, index);
    for (const [key, object] of this.#cache) addToIndex(index, key, object);
  }

  get hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves true once synced, or false if `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.#synced) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onAbort = (): void => {
        resolve(false);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      });
    });
  }

  start(): void {
    if (this.#running) return;
    this.#stop = new AbortController();
    this.#running = this.#run(this.#stop.signal);
    this.#scheduleRelist();
  }

  async stop(): Promise<void> {
    this.#stop?.abort();
    clearTimeout(this.#relistTimer);
    await this.#running;
    this.#running = undefined;
  }

  get(namespace: string, name: string): T | undefined {
    return this.#cache.get(keyOf(this.resource.namespaced ? namespace : '', name));
  }

  getByKey(key: string): T | undefined {
    return this.#cache.get(key);
  }

  /** Every cached object, or those of one namespace. */
  list(namespace?: string): T[] {
    const objects = [...this.#cache.values()];
    return namespace === undefined
      ? objects
      : objects.filter((o) => (o.metadata.namespace ?? '') === namespace);
  }

  keys(): string[] {
    return [...this.#cache.keys()];
  }

  byIndex(name: string, value: string): T[] {
    const index = this.#indexes.get(name);
    if (!index) throw new Error(`no index ${name}`);
    return [...(index.entries.get(value) ?? [])].flatMap((key) => this.#cache.get(key) ?? []);
  }

  async #run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(this.#tuning.backoff);
    // A function, not the property: TypeScript would keep `signal.aborted` narrowed across awaits.
    const stopped = (): boolean => signal.aborted;
    while (!stopped()) {
      try {
        if (this.#resourceVersion === '' || this.#relistDue) {
          this.#relistDue = false;
          await this.#relist(signal);
          backoff.reset();
        }
        const started = performance.now();
        const { end, events } = await this.#watch(signal);
        if (events > 0) backoff.reset();
        if (end === 'gone') {
          this.#log.info('watch resourceVersion expired; relisting');
          this.#resourceVersion = '';
        } else if (end === 'stale') {
          this.#log.warn('watch delivered nothing for too long; restarting it', {
            staleWatchMs: this.#tuning.staleWatchMs,
          });
        } else if (end === 'closed' && events === 0 && performance.now() - started < 1000) {
          // A watch that the server ends at once without a single event: do not spin on it.
          await sleep(backoff.next(), signal);
        }
      } catch (err) {
        if (stopped()) break;
        if (isGone(err)) {
          this.#resourceVersion = '';
          continue;
        }
        const delayMs = Math.round(backoff.next());
        const code = statusCode(err);
        this.#log.warn('list/watch failed; retrying', {
          err,
          statusCode: code,
          ...(code === 404
            ? { hint: 'the API server does not serve this resource: is its CRD installed?' }
            : {}),
          ...(code === 403
            ? { hint: 'the operator lacks RBAC permission to list and watch this resource' }
            : {}),
          retryInMs: delayMs,
          synced: this.#synced,
        });
        await sleep(delayMs, signal);
      }
    }
  }

  async #relist(signal: AbortSignal): Promise<void> {
    const { items, resourceVersion } = await this.#client.listAll<T>(this.resource, {
      namespace: this.#options.namespace,
      labelSelector: this.#options.labelSelector,
      fieldSelector: this.#options.fieldSelector,
      signal,
    });
    const listed = new Set<string>();
    for (const item of items) {
      listed.add(objectKey(item));
      this.#upsert(item);
    }
    for (const [key, object] of this.#cache) {
      if (!listed.has(key)) this.#remove(key, object);
    }
    this.#resourceVersion = resourceVersion;
    this.#log.debug('listed', { objects: items.length, resourceVersion });
    if (!this.#synced) {
      this.#synced = true;
      this.#log.info('synced', { objects: items.length });
      for (const waiter of this.#syncWaiters) waiter();
      this.#syncWaiters = [];
    }
  }

  async #watch(signal: AbortSignal): Promise<{ end: WatchEnd; events: number }> {
    const watch: { abort: AbortController; end?: WatchEnd } = { abort: new AbortController() };
    this.#currentWatch = watch;
    let events = 0;
    let watchdog: NodeJS.Timeout | undefined;
    const armWatchdog = (): void => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        this.#endWatch(watch, 'stale');
      }, this.#tuning.staleWatchMs);
    };
    if (this.#relistDue) this.#endWatch(watch, 'relist');
    armWatchdog();
    try {
      const [minTimeout, maxTimeout] = this.#tuning.watchTimeoutSeconds;
      const stream = this.#client.watch<T>(
        this.resource,
        {
          namespace: this.#options.namespace,
          labelSelector: this.#options.labelSelector,
          fieldSelector: this.#options.fieldSelector,
          resourceVersion: this.#resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: Math.floor(minTimeout + Math.random() * (maxTimeout - minTimeout)),
        },
        AbortSignal.any([signal, watch.abort.signal]),
      );
      for await (const event of stream) {
        armWatchdog();
        events += 1;
        if (event.type === 'ERROR') {
          const status = event.object as WatchStatus;
          if (status.code === 410) return { end: 'gone', events };
          throw new KubeApiError(
            status.code ?? 500,
            `watch error: ${status.message ?? 'unknown'}`,
            status.reason,
          );
        }
        const object = event.object as T;
        if (event.type === 'ADDED' || event.type === 'MODIFIED') this.#upsert(object);
        if (event.type === 'DELETED') this.#remove(objectKey(object), object);
        this.#resourceVersion = object.metadata.resourceVersion ?? this.#resourceVersion;
      }
      return { end: 'closed', events };
    } catch (err) {
      if (watch.end && !signal.aborted) return { end: watch.end, events };
      throw err;
    } finally {
      clearTimeout(watchdog);
      this.#currentWatch = undefined;
    }
  }

  #endWatch(watch: { abort: AbortController; end?: WatchEnd }, end: WatchEnd): void {
    watch.end ??= end;
    watch.abort.abort();
  }

  #scheduleRelist(): void {
    const period = this.#tuning.relistPeriodMs;
    if (period <= 0) return;
    this.#relistTimer = setTimeout(
      () => {
        this.#relistDue = true;
        if (this.#currentWatch) this.#endWatch(this.#currentWatch, 'relist');
        this.#scheduleRelist();
      },
      period * (1 + 0.2 * Math.random()),
    );
    this.#relistTimer.unref();
  }

  #upsert(raw: T): void {
    const object = prepare(raw);
    const key = objectKey(object);
    const old = this.#cache.get(key);
    if (old && old.metadata.resourceVersion === object.metadata.resourceVersion) return;
    this.#cache.set(key, object);
    for (const index of this.#indexes.values()) {
      if (old) removeFromIndex(index, key, old);
      addToIndex(index, key, object);
    }
    this.#dispatch((handlers) => (old ? handlers.update?.(old, object) : handlers.add?.(object)));
  }

  #remove(key: string, object: T): void {
    const old = this.#cache.get(key);
    if (!old) return;
    this.#cache.delete(key);
    for (const index of this.#indexes.values()) removeFromIndex(index, key, old);
    this.#dispatch((handlers) => handlers.delete?.(prepare(object)));
  }

  #dispatch(call: (handlers: InformerHandlers<T>) => void): void {
    for (const handlers of this.#handlers) {
      try {
        call(handlers);
      } catch (err) {
        this.#log.error('event handler failed', { err: describeError(err) });
      }
    }
  }
}

type Index<T> = { keysOf: (object: T) => string[]; entries: Map<string, Set<string>> };

function addToIndex<T>(index: Index<T>, key: string, object: T): void {
  for (const value of index.keysOf(object)) {
    let keys = index.entries.get(value);
    if (!keys) index.entries.set(value, (keys = new Set()));
    keys.add(key);
  }
}

function removeFromIndex<T>(index: Index<T>, key: string, object: T): void {
  for (const value of index.keysOf(object)) {
    const keys = index.entries.get(value);
    keys?.delete(key);
    if (keys?.size === 0) index.entries.delete(value);
  }
}

/**
 * Cached objects are shared by every reader, so they are frozen: a reconciler that modifies one by mistake
 * fails loudly instead of corrupting the cache. managedFields are dropped to save memory; nothing reads them.
 */
function prepare<T extends KubeObject>(object: T): T {
  if (Object.isFrozen(object)) return object;
  delete object.metadata.managedFields;
  return deepFreeze(object);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function definedOnly(options: InformerTuning): InformerTuning {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}
