// Credentials a backend is opened with. Values are Buffers, never strings, so that they can be zeroed once used:
// a string stays in the heap until the garbage collector takes it, and can be copied into a log by accident.

import { MisconfiguredError } from './errors.ts';

/** A reference to one key of a Secret. */
export interface SecretReference {
  namespace: string;
  name: string;
  key: string;
}

/** Secret values by the name the backend gave them in BackendFactory.credentials. */
export type Credentials = ReadonlyMap<string, Buffer>;

/** The named credential, or a MisconfiguredError saying which one is missing (never what it holds). */
export function requireCredential(credentials: Credentials, name: string, what: string): Buffer {
  const value = credentials.get(name);
  if (value === undefined || value.length === 0) throw new MisconfiguredError(`${what} is missing or empty`);
  return value;
}

/** Zeroes every value; call once the backend has connected (or failed to). */
export function wipeCredentials(credentials: Credentials): void {
  for (const value of credentials.values()) value.fill(0);
}
