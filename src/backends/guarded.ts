// What every backend call gets, whatever the backend: a deadline, and a refusal to act on a version that status
// recorded on another target. In one place, so that no backend can forget either.
import type { CallOptions, KeyBackend } from './backend.ts';
import { RetryableError, TargetMismatchError } from './errors.ts';
import type { KeyIdentity } from './identity.ts';
import { type BackendCall, wrapBackend } from './wrap.ts';

/** Where each call takes its CallOptions (the last parameter). */
const OPTIONS_AT: { readonly [C in BackendCall]: number } = {
  health: 0,
  refresh: 0,
  observe: 1,
  versions: 1,
  publicKey: 1,
  destroy: 1,
  wrapForRecovery: 1,
  sealRecovery: 1,
  restoreKey: 1,
  create: 2,
  sign: 2,
  setUsages: 2,
  verify: 3,
};

export interface Deadlines {
  /** Generation: RSA-4096 inside a busy HSM takes seconds, a cloud HSM key tens of seconds. */
  readonly createMs: number;
  readonly otherMs: number;
}

export const DEFAULT_DEADLINES: Deadlines = { createMs: 120_000, otherMs: 30_000 };

/**
 * The backend with every call bounded by a deadline (and by the caller's own signal), ended with a RetryableError
 * when it passes: a hung network HSM does not hold a worker forever. A PKCS#11 call already inside the module cannot
 * be interrupted; its session stays busy until the module returns, and the caller moves on.
 */
export function guarded(backend: KeyBackend, deadlines: Deadlines = DEFAULT_DEADLINES): KeyBackend {
  return wrapBackend(backend, (operation, args, call) => {
    const identity = operation === 'health' || operation === 'refresh' ? undefined : (args[0] as KeyIdentity);
    if (identity?.target !== undefined && identity.target !== backend.target.id) {
      return Promise.reject(
        new TargetMismatchError(
          `version ${identity.version} was recorded on ${identity.target}, but the KeyBackend now reaches ${backend.target.id}; nothing was done`,
        ),
      );
    }
    const at = OPTIONS_AT[operation];
    const given = args[at] as CallOptions | undefined;
    const limit = operation === 'create' ? deadlines.createMs : deadlines.otherMs;
    const deadline = AbortSignal.timeout(limit);
    const signal = given?.signal ? AbortSignal.any([given.signal, deadline]) : deadline;
    const callArgs = [...args];
    callArgs[at] = { ...given, signal };
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const why = deadline.aborted ? `did not answer within ${limit / 1000}s` : 'was cancelled';
        reject(new RetryableError(`${operation} on ${backend.target.description} ${why}`));
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      call(callArgs)
        .then(resolve, reject)
        .finally(() => {
          signal.removeEventListener('abort', onAbort);
        });
    });
  });
}

/** Opening a backend: a cloud backend's first call, or a PKCS#11 module tried first in a child process (30 s). */
export const OPEN_DEADLINE_MS = 60_000;

/**
 * Opens a backend within `ms`, or fails with a RetryableError. A backend that opens after the deadline is closed:
 * no one holds it.
 */
export async function openWithin(
  open: () => Promise<KeyBackend>,
  what: string,
  ms = OPEN_DEADLINE_MS,
): Promise<KeyBackend> {
  let late = false;
  let timer: NodeJS.Timeout | undefined;
  const opening = open();
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      late = true;
      reject(new RetryableError(`connecting to ${what} did not finish within ${ms / 1000}s`));
    }, ms);
  });
  opening.then(
    (backend) => {
      if (late) void backend.close().catch(() => undefined);
    },
    () => undefined,
  );
  try {
    return await Promise.race([opening, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
