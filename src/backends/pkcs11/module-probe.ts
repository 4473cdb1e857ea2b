// pkcs11js calls a module's C_Initialize, C_GetSlotList and C_OpenSession on the main thread, and a module can hang
// there (a network HSM whose partition does not answer) or crash (a library that is not a PKCS#11 module at all).
// Either would stop the whole operator, every other KeyBackend with it. So before a module is loaded into the
// operator's process for the first time, a child process loads it and makes those calls; it is killed when it does
// not finish within the deadline, and the module is not loaded. A module that fails cleanly (returns an error, or
// cannot be loaded) is safe to try in the process, which reports the failure as it always does.
import { execFile } from 'node:child_process';
import { extname, join } from 'node:path';
import { ModuleNotFoundError, RetryableError } from '../errors.ts';

/** Long enough for a network HSM to log its client in; a hung module is given up on after it. */
export const MODULE_PROBE_TIMEOUT_MS = 30_000;

// The same extension as this file: .ts when run from source, .js when built.
const childScript = join(import.meta.dirname, `module-probe-child${extname(import.meta.filename)}`);

/** Resolves unless the module at `path` hung or crashed in a child process while initializing and opening a session. */
export function probeModule(path: string, timeoutMs = MODULE_PROBE_TIMEOUT_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [childScript, path],
      { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 64 * 1024 },
      (error) => {
        if (error?.killed) {
          reject(
            new RetryableError(
              `PKCS#11 module ${path} did not initialize and open a session within ${timeoutMs / 1000}s; it was not loaded into the operator, and is tried again later`,
            ),
          );
          return;
        }
        if (error?.signal) {
          reject(
            new ModuleNotFoundError(
              `PKCS#11 module ${path} crashed (${error.signal}) while initializing in a separate process; it was not loaded into the operator`,
            ),
          );
          return;
        }
        resolve();
      },
    );
  });
}
