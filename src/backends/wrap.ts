// One way to put something around every call of a backend (metrics, deadlines, target checks), so that each wrapper
// is a function of the call and not a copy of the whole interface.
import type { KeyBackend } from './backend.ts';

/**
 * The methods that reach the backend; capabilities() and close() are local and pass through unwrapped. The recovery
 * methods are optional: a backend without them gets no wrapper for them either.
 */
export const BACKEND_CALLS = [
  'health',
  'observe',
  'versions',
  'create',
  'publicKey',
  'sign',
  'verify',
  'setUsages',
  'destroy',
  'refresh',
  'wrapForRecovery',
  'sealRecovery',
  'restoreKey',
] as const satisfies readonly (keyof KeyBackend)[];
export type BackendCall = (typeof BACKEND_CALLS)[number];

export type Around = (
  operation: BackendCall,
  args: unknown[],
  call: (args: unknown[]) => Promise<unknown>,
) => Promise<unknown>;

/** The same backend with `around` run for every call in BACKEND_CALLS. */
export function wrapBackend(backend: KeyBackend, around: Around): KeyBackend {
  const wrapped: Record<string, unknown> = {
    type: backend.type,
    target: backend.target,
    capabilities: () => backend.capabilities(),
    close: () => backend.close(),
  };
  const target = backend as unknown as Record<BackendCall, (...args: unknown[]) => Promise<unknown>>;
  for (const operation of BACKEND_CALLS) {
    if (typeof target[operation] !== 'function') continue;
    wrapped[operation] = (...args: unknown[]) =>
      around(operation, args, (callArgs) => target[operation](...callArgs));
  }
  return wrapped as unknown as KeyBackend;
}
