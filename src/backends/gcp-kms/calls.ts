// Every Cloud KMS call goes through here: a bounded time per attempt, retries with backoff on transient failures
// (honouring the delay a RetryInfo asks for), and the caller's AbortSignal. google-gax's own retries are turned off
// for every call (retryCodes: []) so that there is one retry policy, and so that nothing retries a call that makes a
// CryptoKeyVersion: after a lost response that call may have succeeded, and only listing can tell.

import type { CallOptions } from '../backend.ts';
import { type BackendError, RetryableError } from '../errors.ts';
import { Backoff, sleep } from '../../runtime/backoff.ts';
import { retryDelayMs, toBackendError } from './errors.ts';

export interface CallPolicy {
  /** Per attempt, in milliseconds. */
  readonly timeoutMs: number;
  /** Attempts for a call that is safe to repeat. */
  readonly attempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

export const DEFAULT_CALL_POLICY: CallPolicy = {
  timeoutMs: 30_000,
  attempts: 5,
  initialBackoffMs: 100,
  maxBackoffMs: 5_000,
};

/** The google-gax CallOptions of one attempt. */
export interface GaxCallOptions {
  readonly timeout: number;
  readonly retry: { readonly retryCodes: number[] };
}

function aborted(operation: string): RetryableError {
  return new RetryableError(`${operation}: the call was cancelled (deadline or shutdown)`);
}

/** Settles with `promise`, or rejects as soon as `signal` aborts (the RPC itself ends at its own timeout). */
function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  operation: string,
): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      reject(aborted(operation));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

export class Caller {
  readonly #policy: CallPolicy;

  constructor(policy: CallPolicy = DEFAULT_CALL_POLICY) {
    this.#policy = policy;
  }

  /**
   * Runs `attempt` until it succeeds, fails for good, or runs out of attempts. `idempotent: false` makes one attempt
   * only. `attempt` may check the response (CRC32C) and throw a RetryableError to have it made again.
   */
  async call<T>(
    operation: string,
    attempt: (options: GaxCallOptions) => Promise<T>,
    options: CallOptions = {},
    idempotent = true,
  ): Promise<T> {
    const { signal } = options;
    const backoff = new Backoff({
      initialMs: this.#policy.initialBackoffMs,
      maxMs: this.#policy.maxBackoffMs,
    });
    const attempts = idempotent ? this.#policy.attempts : 1;
    for (let made = 1; ; made++) {
      if (signal?.aborted) throw aborted(operation);
      let failure: BackendError;
      let delay: number | undefined;
      try {
        return await untilAborted(
          attempt({ timeout: this.#policy.timeoutMs, retry: { retryCodes: [] } }),
          signal,
          operation,
        );
      } catch (error) {
        failure = toBackendError(error, operation);
        delay = retryDelayMs(error);
      }
      if (failure.retry !== 'backoff' || made >= attempts || signal?.aborted) throw failure;
      await sleep(Math.max(delay ?? 0, backoff.next()), signal);
    }
  }
}
