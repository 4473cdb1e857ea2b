// Rate limiters for the work queue, with client-go's semantics: `when(item)` says how long to wait before
// the item may be processed again, and counts one more failure for it; `forget(item)` clears its history.

import type { Clock } from './clock.ts';
import { systemClock } from './clock.ts';

export interface RateLimiter {
  when(item: string): number;
  forget(item: string): void;
  numRequeues(item: string): number;
}

/** Per item: baseMs * 2^failures, capped at maxMs. */
export class ItemExponentialRateLimiter implements RateLimiter {
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #failures = new Map<string, number>();

  constructor(baseMs = 5, maxMs = 1_000_000) {
    this.#baseMs = baseMs;
    this.#maxMs = maxMs;
  }

  when(item: string): number {
    const failures = this.#failures.get(item) ?? 0;
    this.#failures.set(item, failures + 1);
    return Math.min(this.#maxMs, this.#baseMs * 2 ** failures);
  }

  forget(item: string): void {
    this.#failures.delete(item);
  }

  numRequeues(item: string): number {
    return this.#failures.get(item) ?? 0;
  }
}

/**
 * An overall token bucket across all items: `burst` retries at once, then `qps` per second. Like Go's
 * rate.Limiter.Reserve, a request always gets a slot; when the bucket is empty the slot is in the future.
 */
export class TokenBucketRateLimiter implements RateLimiter {
  readonly #qps: number;
  readonly #burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #updatedAt: number;

  constructor(options: { qps?: number; burst?: number; clock?: Clock } = {}) {
    this.#qps = options.qps ?? 10;
    this.#burst = options.burst ?? 100;
    this.#clock = options.clock ?? systemClock;
    this.#tokens = this.#burst;
    this.#updatedAt = this.#clock.now();
  }

  when(): number {
    const now = this.#clock.now();
    const elapsedSeconds = Math.max(0, now - this.#updatedAt) / 1000;
    this.#updatedAt = now;
    this.#tokens = Math.min(this.#burst, this.#tokens + elapsedSeconds * this.#qps) - 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.#qps) * 1000;
  }

  forget(): void {
    // The bucket is shared by all items: nothing to forget per item.
  }

  numRequeues(): number {
    return 0;
  }
}

/** The longest delay any of the limiters asks for. */
export class MaxOfRateLimiter implements RateLimiter {
  readonly #limiters: readonly RateLimiter[];

  constructor(...limiters: RateLimiter[]) {
    this.#limiters = limiters;
  }

  when(item: string): number {
    return Math.max(0, ...this.#limiters.map((limiter) => limiter.when(item)));
  }

  forget(item: string): void {
    for (const limiter of this.#limiters) limiter.forget(item);
  }

  numRequeues(item: string): number {
    return Math.max(0, ...this.#limiters.map((limiter) => limiter.numRequeues(item)));
  }
}

/** controller-runtime's default: per-item 5 ms .. 1000 s, and 10 qps with a burst of 100 overall. */
export function defaultControllerRateLimiter(clock: Clock = systemClock): RateLimiter {
  return new MaxOfRateLimiter(
    new ItemExponentialRateLimiter(5, 1_000_000),
    new TokenBucketRateLimiter({ qps: 10, burst: 100, clock }),
  );
}
