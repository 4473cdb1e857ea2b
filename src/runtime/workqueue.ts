// A work queue of object keys with client-go's guarantees:
// - dedup: a key is queued at most once, however many times it is added before a worker takes it;
// - no concurrent processing of one key: a key added while it is being processed is parked in `dirty`
//   and queued again only when the worker calls done(), so N adds during a run give exactly one re-run;
// - delayed adds (requeueAfter) and rate-limited adds (retries with backoff).

import type { Clock } from './clock.ts';
import { systemClock } from './clock.ts';
import type { RateLimiter } from './ratelimiter.ts';
import { defaultControllerRateLimiter } from './ratelimiter.ts';

/** Observers for the workqueue_* metrics; depth and in-flight times are read at scrape time instead. */
export interface WorkQueueHooks {
  added?(): void;
  retried?(): void;
  /** Seconds a key waited in the queue before a worker took it. */
  taken?(waitedSeconds: number): void;
  /** Seconds a worker spent on a key. */
  finished?(workedSeconds: number): void;
}

export interface WorkQueueOptions {
  rateLimiter?: RateLimiter;
  clock?: Clock;
  hooks?: WorkQueueHooks;
}

// setTimeout fires at once for delays above 2^31-1 ms (about 24.8 days); longer delays are capped, so the key
// comes back early and its reconcile simply asks again.
export const maxDelayMs = 2 ** 31 - 1;

export class WorkQueue {
  readonly #rateLimiter: RateLimiter;
  readonly #clock: Clock;
  readonly #hooks: WorkQueueHooks;
  /** Keys waiting for a worker, in insertion (FIFO) order; always a subset of #dirty. */
  readonly #queue = new Set<string>();
  /** Keys that need processing (queued, or added again while being processed). */
  readonly #dirty = new Set<string>();
  /** Keys being processed, with the time processing started. */
  readonly #processing = new Map<string, number>();
  readonly #queuedAt = new Map<string, number>();
  readonly #delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  #waiters: ((key: string | undefined) => void)[] = [];
  #drainWaiters: (() => void)[] = [];
  #shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter(this.#clock);
    this.#hooks = options.hooks ?? {};
  }

  /** Keys waiting for a worker. */
  get length(): number {
    return this.#queue.size;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Start times (ms) of the keys being processed, for the unfinished-work metrics. */
  processingStartTimes(): number[] {
    return [...this.#processing.values()];
  }

  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#hooks.added?.();
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    this.#enqueue(key);
  }

  /** Adds the key after `delayMs`; an earlier pending delayed add of the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const delay = Math.min(delayMs, maxDelayMs);
    const at = this.#clock.now() + delay;
    const pending = this.#delayed.get(key);
    if (pending) {
      if (pending.at <= at) return;
      clearTimeout(pending.timer);
    }
    const timer = setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, delay);
    this.#delayed.set(key, { at, timer });
  }

  /** Adds the key after the rate limiter's delay for it (a retry). */
  addRateLimited(key: string): void {
    if (this.#shuttingDown) return;
    this.#hooks.retried?.();
    this.addAfter(key, this.#rateLimiter.when(key));
  }

  /** Clears the key's retry history (after a success or a terminal error). */
  forget(key: string): void {
    this.#rateLimiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.#rateLimiter.numRequeues(key);
  }

  /** The next key to process, or undefined once the queue is shut down. Pair each key with done(). */
  get(): Promise<string | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    const key = this.#take();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Marks the key as processed; if it was added again meanwhile, it is queued once more. */
  done(key: string): void {
    const startedAt = this.#processing.get(key);
    if (startedAt === undefined) return;
    this.#processing.delete(key);
    this.#hooks.finished?.((this.#clock.now() - startedAt) / 1000);
    if (this.#dirty.has(key) && !this.#shuttingDown) this.#enqueue(key);
    if (this.#processing.size === 0) this.#notifyDrained();
  }

  /** Stops handing out keys: get() returns undefined, adds are ignored, delayed adds are dropped. */
  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    for (const { timer } of this.#delayed.values()) clearTimeout(timer);
    this.#delayed.clear();
    for (const waiter of this.#waiters) waiter(undefined);
    this.#waiters = [];
    if (this.#processing.size === 0) this.#notifyDrained();
  }

  /** Resolves once the queue is shut down and no key is being processed any more. */
  drained(): Promise<void> {
    if (this.#shuttingDown && this.#processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #enqueue(key: string): void {
    this.#queue.add(key);
    this.#queuedAt.set(key, this.#clock.now());
    const waiter = this.#waiters.shift();
    if (waiter) waiter(this.#take());
  }

  #take(): string | undefined {
    const next = this.#queue.values().next();
    if (next.done) return undefined;
    const key = next.value;
    const now = this.#clock.now();
    this.#queue.delete(key);
    this.#dirty.delete(key);
    this.#processing.set(key, now);
    this.#hooks.taken?.((now - (this.#queuedAt.get(key) ?? now)) / 1000);
    this.#queuedAt.delete(key);
    return key;
  }

  #notifyDrained(): void {
    if (!this.#shuttingDown) return;
    for (const resolve of this.#drainWaiters) resolve();
    this.#drainWaiters = [];
  }
}
