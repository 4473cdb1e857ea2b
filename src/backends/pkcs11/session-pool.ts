// Up to maxSessions PKCS#11 sessions on one token, each used by one operation at a time (the *Async calls run on
// worker threads). The user logs in once: login state belongs to the application and token, so sessions opened
// later inherit it as long as one session stays open.

import pkcs11js from 'pkcs11js';
import { PermissionDeniedError, RetryableError } from '../errors.ts';
import { isPkcs11Error, isSessionFatal, toBackendError } from './errors.ts';

export type LogIn = (session: pkcs11js.Handle) => void;

function abortedCheck(operation: string, signal: AbortSignal | undefined): void {
  if (signal?.aborted)
    throw new RetryableError(`${operation}: the call was cancelled (deadline or shutdown)`);
}

export class SessionPool {
  readonly #pkcs11: pkcs11js.PKCS11;
  readonly #slot: pkcs11js.Handle;
  readonly #maxSessions: number;
  readonly #logIn: LogIn;
  readonly #onLoggedOut: () => void;
  readonly #idle: pkcs11js.Handle[] = [];
  readonly #waiters: (() => void)[] = [];
  #open = 0;
  #loggedIn = false;
  #closed = false;
  #onDrained: (() => void) | undefined;
  /** A rejected PIN: this pool never offers it to the token again (HSMs lock out after a few failures). */
  #loginFailure: PermissionDeniedError | undefined;

  constructor(
    pkcs11: pkcs11js.PKCS11,
    slot: pkcs11js.Handle,
    maxSessions: number,
    logIn: LogIn,
    onLoggedOut: () => void,
  ) {
    this.#pkcs11 = pkcs11;
    this.#slot = slot;
    this.#maxSessions = maxSessions;
    this.#logIn = logIn;
    this.#onLoggedOut = onLoggedOut;
  }

  /**
   * Runs `fn` on a session of its own; PKCS#11 failures become BackendErrors naming `operation`. An aborted `signal`
   * stops the call before it reaches the token (a PKCS#11 call in progress cannot be interrupted).
   */
  async use<T>(
    operation: string,
    fn: (session: pkcs11js.Handle) => T | Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    abortedCheck(operation, signal);
    const session = await this.#acquire();
    try {
      abortedCheck(operation, signal);
    } catch (error) {
      this.#release(session, false);
      throw error;
    }
    let broken = false;
    try {
      return await fn(session);
    } catch (error) {
      broken = isSessionFatal(error);
      if (isPkcs11Error(error, pkcs11js.CKR_USER_NOT_LOGGED_IN)) this.#markLoggedOut();
      throw toBackendError(error, operation);
    } finally {
      this.#release(session, broken);
    }
  }

  /** Closes idle sessions now and busy ones when their operation ends; resolves when none is open. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const session of this.#idle.splice(0)) this.#closeSession(session);
    for (const wake of this.#waiters.splice(0)) wake();
    if (this.#open > 0) await new Promise<void>((resolve) => (this.#onDrained = resolve));
  }

  async #acquire(): Promise<pkcs11js.Handle> {
    for (;;) {
      if (this.#closed) throw new RetryableError('the PKCS#11 backend is closed');
      if (this.#loginFailure !== undefined) throw this.#loginFailure;
      const idle = this.#idle.pop();
      if (idle !== undefined) return idle;
      if (this.#open < this.#maxSessions) return this.#openSession();
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  #openSession(): pkcs11js.Handle {
    let session: pkcs11js.Handle;
    try {
      session = this.#pkcs11.C_OpenSession(this.#slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    } catch (error) {
      throw toBackendError(error, 'open a session');
    }
    this.#open += 1;
    if (!this.#loggedIn) {
      try {
        this.#logIn(session);
      } catch (error) {
        this.#closeSession(session);
        if (error instanceof PermissionDeniedError) this.#loginFailure = error;
        throw error;
      }
      this.#loggedIn = true;
    }
    return session;
  }

  #release(session: pkcs11js.Handle, broken: boolean): void {
    if (broken || this.#closed) this.#closeSession(session);
    else this.#idle.push(session);
    this.#waiters.shift()?.();
  }

  #closeSession(session: pkcs11js.Handle): void {
    try {
      this.#pkcs11.C_CloseSession(session);
    } catch {
      // The session is already gone (token removed, module finalized); nothing left to release.
    }
    this.#open -= 1;
    if (this.#open === 0) {
      this.#markLoggedOut();
      this.#onDrained?.();
    }
  }

  #markLoggedOut(): void {
    if (!this.#loggedIn) return;
    this.#loggedIn = false;
    this.#onLoggedOut();
  }
}
