// One loaded and initialized PKCS#11 module per path, shared by every backend in the process. A module can be
// initialized once per process and its login state is per application and token, so backends on the same module
// must share it: C_Finalize runs only when the last one lets go.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import pkcs11js from 'pkcs11js';
import { MisconfiguredError, ModuleNotFoundError } from '../errors.ts';
import { isPkcs11Error, toBackendError } from './errors.ts';
import { probeModule } from './module-probe.ts';

interface TokenLogin {
  readonly pinDigest: Buffer;
  holders: number;
}

interface SharedModule {
  readonly pkcs11: pkcs11js.PKCS11;
  users: number;
  readonly logins: Map<string, TokenLogin>;
}

const modules = new Map<string, SharedModule>();

// Lets the process compare PINs without keeping them: digests are worthless outside this process.
const pinDigestKey = randomBytes(32);

function pinDigest(pin: Buffer): Buffer {
  return createHmac('sha256', pinDigestKey).update(pin).digest();
}

export class ModuleLease {
  readonly path: string;
  readonly pkcs11: pkcs11js.PKCS11;
  readonly #shared: SharedModule;
  #released = false;

  constructor(path: string, shared: SharedModule) {
    this.path = path;
    this.pkcs11 = shared.pkcs11;
    this.#shared = shared;
  }

  /**
   * Logs the user in through `session`. Login state belongs to the process and token, so the token may already be
   * logged in (CKR_USER_ALREADY_LOGGED_IN), by another backend of this process or by the backend this one replaces
   * after a PIN rotation. That only counts as success when it was the same PIN; with another PIN the old login is
   * ended and this PIN is tried, so a new PIN is proven by the token itself and a wrong one never rides on an old
   * login.
   */
  login(session: pkcs11js.Handle, tokenKey: string, pin: Buffer): void {
    const digest = pinDigest(pin);
    const current = this.#shared.logins.get(tokenKey);
    const logIn = (): void => {
      this.pkcs11.C_Login(session, pkcs11js.CKU_USER, pin.toString('utf8'));
    };
    try {
      logIn();
    } catch (error) {
      if (!isPkcs11Error(error, pkcs11js.CKR_USER_ALREADY_LOGGED_IN))
        throw toBackendError(error, 'log in to the token');
      if (current === undefined || !timingSafeEqual(current.pinDigest, digest)) {
        try {
          this.pkcs11.C_Logout(session);
          logIn();
        } catch (retryError) {
          this.#shared.logins.delete(tokenKey);
          throw toBackendError(retryError, 'log in to the token with the new PIN');
        }
      }
    }
    if (current === undefined || !timingSafeEqual(current.pinDigest, digest)) {
      this.#shared.logins.set(tokenKey, { pinDigest: digest, holders: (current?.holders ?? 0) + 1 });
    } else {
      current.holders += 1;
    }
  }

  /** Called when a backend closed its last session on the token: its share of the login is gone. */
  endLogin(tokenKey: string): void {
    const current = this.#shared.logins.get(tokenKey);
    if (current === undefined) return;
    current.holders -= 1;
    if (current.holders <= 0) this.#shared.logins.delete(tokenKey);
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#shared.users -= 1;
    if (this.#shared.users > 0) return;
    modules.delete(this.path);
    try {
      this.pkcs11.C_Finalize();
    } finally {
      this.pkcs11.close();
    }
  }
}

export function openModule(modulePath: string): ModuleLease {
  const path = existingPath(modulePath);
  let shared = modules.get(path);
  if (shared === undefined) {
    shared = { pkcs11: loadAndInitialize(path), users: 0, logins: new Map() };
    modules.set(path, shared);
  }
  shared.users += 1;
  return new ModuleLease(path, shared);
}

/**
 * openModule, for a module this process has not loaded yet only once a child process has shown that it neither hangs
 * nor crashes while initializing (module-probe.ts). What the operator uses; tests may open a known module directly.
 */
export async function openProbedModule(modulePath: string): Promise<ModuleLease> {
  const path = existingPath(modulePath);
  if (!modules.has(path)) await probeModule(path);
  return openModule(path);
}

function existingPath(modulePath: string): string {
  if (!existsSync(modulePath)) {
    throw new ModuleNotFoundError(`PKCS#11 module ${modulePath} does not exist`);
  }
  return realpathSync(modulePath);
}

function loadAndInitialize(path: string): pkcs11js.PKCS11 {
  const pkcs11 = new pkcs11js.PKCS11();
  try {
    pkcs11.load(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ModuleNotFoundError(`PKCS#11 module ${path} could not be loaded: ${reason}`, { cause: error });
  }
  try {
    // OS locking: pkcs11js runs the *Async calls on worker threads.
    pkcs11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (error) {
    if (!isPkcs11Error(error, pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
      pkcs11.close();
      const cause = toBackendError(error, `initialize PKCS#11 module ${path}`);
      throw new MisconfiguredError(cause instanceof Error ? cause.message : String(cause), { cause });
    }
  }
  return pkcs11;
}
