// The session pool on a real SoftHSM2 token. SoftHSM does not report session counts, so the module is wrapped in a
// proxy that counts the real calls passing through it (it changes nothing about them).

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type pkcs11js from 'pkcs11js';
import { PinIncorrectError } from '../../../src/backends/errors.ts';
import { type ModuleLease, openModule } from '../../../src/backends/pkcs11/module.ts';
import { SessionPool } from '../../../src/backends/pkcs11/session-pool.ts';
import { findToken } from '../../../src/backends/pkcs11/token.ts';
import { SOFTHSM_MODULE, SoftHsm, type SoftHsmToken } from '../../support/softhsm.ts';

let hsm: SoftHsm;
let token: SoftHsmToken;
let lease: ModuleLease;
let slot: pkcs11js.Handle;

interface Counted {
  pkcs11: pkcs11js.PKCS11;
  open: number;
  maxOpen: number;
  /** Times the pool offered the PIN to the token. */
  logins: number;
}

function counted(real: pkcs11js.PKCS11): Counted {
  const state: Counted = { pkcs11: real, open: 0, maxOpen: 0, logins: 0 };
  state.pkcs11 = new Proxy(real, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof property !== 'string' || typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        const result: unknown = Reflect.apply(value, target, args);
        if (property === 'C_OpenSession') state.maxOpen = Math.max(state.maxOpen, ++state.open);
        if (property === 'C_CloseSession') state.open -= 1;
        return result;
      };
    },
  });
  return state;
}

function pool(module: Counted, pin: string, maxSessions: number): SessionPool {
  return new SessionPool(
    module.pkcs11,
    slot,
    maxSessions,
    (session) => {
      module.logins += 1;
      lease.login(session, 'pool-test', Buffer.from(pin));
    },
    () => {
      lease.endLogin('pool-test');
    },
  );
}

before(() => {
  hsm = SoftHsm.create();
  token = hsm.initToken('keyward-pool');
  lease = openModule(SOFTHSM_MODULE);
  slot = findToken(lease.pkcs11, lease.path, { label: token.label }).slot;
});

after(() => {
  lease.release();
  hsm.cleanup();
});

describe('session pool', () => {
  it('never opens more than maxSessions, logs in once, and closes everything', async () => {
    const module = counted(lease.pkcs11);
    const sessions = pool(module, token.pin, 3);
    let busy = 0;
    let maxBusy = 0;
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        sessions.use('work', async (session) => {
          maxBusy = Math.max(maxBusy, ++busy);
          const random = module.pkcs11.C_GenerateRandom(session, Buffer.alloc(8));
          await sleep(2);
          busy -= 1;
          return `${i}:${random.length}`;
        }),
      ),
    );
    assert.equal(results.length, 30);
    assert.equal(module.maxOpen, 3);
    assert.equal(maxBusy, 3);
    assert.equal(module.logins, 1);
    await sessions.close();
    assert.equal(module.open, 0);
  });

  it('offers a rejected PIN to the token once, never again', async () => {
    const module = counted(lease.pkcs11);
    const sessions = pool(module, 'not-the-pin', 2);
    await assert.rejects(
      sessions.use('first', () => 'unreachable'),
      PinIncorrectError,
    );
    await assert.rejects(
      sessions.use('second', () => 'unreachable'),
      PinIncorrectError,
    );
    await assert.rejects(
      sessions.use('third', () => 'unreachable'),
      PinIncorrectError,
    );
    assert.equal(module.logins, 1);
    assert.equal(module.open, 0);
    await sessions.close();
  });

  it('drops a session the token invalidated and carries on with a new one', async () => {
    const module = counted(lease.pkcs11);
    const sessions = pool(module, token.pin, 1);
    await assert.rejects(
      sessions.use('break the session', (session) => {
        module.pkcs11.C_CloseSession(session);
        return module.pkcs11.C_GenerateRandom(session, Buffer.alloc(8));
      }),
      /CKR_SESSION_HANDLE_INVALID/,
    );
    const random = await sessions.use('work again', (session) =>
      module.pkcs11.C_GenerateRandom(session, Buffer.alloc(8)),
    );
    assert.equal(random.length, 8);
    await sessions.close();
  });
});
