// Exponential backoff with jitter, for reconnecting informers and retrying leader election, so that many
// replicas that lost the API server at the same moment do not come back in lockstep.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Growth per consecutive failure. */
  factor?: number;
  /** Each delay is stretched by a random fraction of up to `jitter` times itself (client-go: 1.0). */
  jitter?: number;
  random?: () => number;
}

export class Backoff {
  readonly #options: Required<BackoffOptions>;
  #failures = 0;

  constructor(options: BackoffOptions) {
    this.#options = { factor: 2, jitter: 1, random: Math.random, ...options };
  }

  /** The delay before the next attempt; each call counts one more consecutive failure. */
  next(): number {
    const { initialMs, maxMs, factor, jitter, random } = this.#options;
    const base = Math.min(maxMs, initialMs * factor ** this.#failures);
    this.#failures += 1;
    return base + base * jitter * random();
  }

  reset(): void {
    this.#failures = 0;
  }
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
