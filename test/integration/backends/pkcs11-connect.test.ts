// Connecting the PKCS#11 backend to a real SoftHSM2: token selection, token info, and the configuration failures a
// KeyBackend condition must tell apart (missing module, missing token, wrong PIN), without ever showing the PIN.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import pkcs11js from 'pkcs11js';
import { after, before, describe, it } from 'node:test';
import {
  type BackendError,
  MisconfiguredError,
  ModuleNotFoundError,
  PinIncorrectError,
  RetryableError,
  TokenNotFoundError,
} from '../../../src/backends/errors.ts';
import type { Pkcs11Config } from '../../../src/backends/pkcs11/config.ts';
import { openModule } from '../../../src/backends/pkcs11/module.ts';
import { probeModule } from '../../../src/backends/pkcs11/module-probe.ts';
import { Pkcs11Backend } from '../../../src/backends/pkcs11/pkcs11-backend.ts';
import { buildMisbehavingModule, buildNotPkcs11Library } from '../../support/pkcs11-shim.ts';
import { SOFTHSM_MODULE, SoftHsm, type SoftHsmToken } from '../../support/softhsm.ts';

let hsm: SoftHsm;
let token: SoftHsmToken;
let other: SoftHsmToken;
let rotating: SoftHsmToken;

function config(overrides: Partial<Pkcs11Config> = {}): Pkcs11Config {
  return {
    modulePath: SOFTHSM_MODULE,
    vendor: 'softhsm2',
    token: { label: token.label },
    pin: Buffer.from(token.pin),
    ...overrides,
  };
}

/** Asserts the error is `type`, tells the caller not to retry in a tight loop, and shows no PIN anywhere. */
function assertCleanError(type: abstract new (...args: never[]) => BackendError, ...pins: string[]) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${inspect(error)}`);
    assert.notEqual(error.retry, 'backoff');
    const everything = `${error.message}\n${error.stack ?? ''}\n${inspect(error, { depth: 10 })}\n${JSON.stringify(error)}`;
    for (const pin of pins) assert.ok(!everything.includes(pin), 'the PIN appears in the error');
    return true;
  };
}

before(() => {
  hsm = SoftHsm.create();
  token = hsm.initToken('keyward-connect');
  other = hsm.initToken('keyward-other');
  rotating = hsm.initToken('keyward-rotating');
});

after(() => {
  hsm.cleanup();
});

describe('connect', () => {
  it('finds the token by label and reports what it is', async () => {
    const backend = await Pkcs11Backend.connect(config());
    try {
      const { info, warnings } = await backend.health();
      assert.equal(info.tokenLabel, token.label);
      assert.equal(info.manufacturer, 'SoftHSM project');
      assert.equal(info.model, 'SoftHSM v2');
      assert.match(info.serial, /^[0-9a-f]{16}$/);
      assert.deepEqual(warnings, []);
    } finally {
      await backend.close();
    }
  });

  it('finds the token by serial and by slot id', async () => {
    const byLabel = await Pkcs11Backend.connect(
      config({ token: { label: other.label }, pin: Buffer.from(other.pin) }),
    );
    const { serial } = byLabel.info;
    await byLabel.close();
    const bySerial = await Pkcs11Backend.connect(config({ token: { serial }, pin: Buffer.from(other.pin) }));
    assert.equal(bySerial.info.tokenLabel, other.label);
    await bySerial.close();
    const bySlot = await Pkcs11Backend.connect(
      config({ token: { slotId: other.slotId }, pin: Buffer.from(other.pin) }),
    );
    assert.equal(bySlot.info.tokenLabel, other.label);
    await bySlot.close();
  });

  it('finds the module at the vendor default path when none is configured', async () => {
    const backend = await Pkcs11Backend.connect({ ...config(), modulePath: undefined });
    assert.equal(backend.info.tokenLabel, token.label);
    await backend.close();
  });

  it('rejects calls after close', async () => {
    const backend = await Pkcs11Backend.connect(config());
    await backend.close();
    await assert.rejects(backend.health(), RetryableError);
  });
});

describe('configuration failures', () => {
  it('a wrong PIN is PinIncorrect and the PIN appears nowhere in the error', async () => {
    const wrong = 'wrong-pin-7f3a9c';
    await assert.rejects(
      Pkcs11Backend.connect(config({ pin: Buffer.from(wrong) })),
      assertCleanError(PinIncorrectError, wrong, token.pin),
    );
  });

  it('a wrong PIN is rejected even while the token is logged in with the right one', async () => {
    // PKCS#11 login state belongs to the process: C_Login answers CKR_USER_ALREADY_LOGGED_IN whatever the PIN.
    const right = await Pkcs11Backend.connect(config());
    try {
      const wrong = 'another-wrong-pin';
      await assert.rejects(
        Pkcs11Backend.connect(config({ pin: Buffer.from(wrong) })),
        assertCleanError(PinIncorrectError, wrong, token.pin),
      );
      const again = await Pkcs11Backend.connect(config());
      await again.close();
    } finally {
      await right.close();
    }
  });

  it('a PIN rotated on the token works while the old login is still held (one login per process)', async () => {
    const rotated = { ...config(), token: { label: rotating.label } };
    const before = await Pkcs11Backend.connect({ ...rotated, pin: Buffer.from(rotating.pin) });
    const newPin = `rotated-${randomBytes(6).toString('hex')}`;
    // The admin changes the PIN on the token (here through the login the first backend holds), then in the Secret.
    const lease = openModule(SOFTHSM_MODULE);
    try {
      const slot = lease.pkcs11
        .C_GetSlotList(true)
        .find((s) => lease.pkcs11.C_GetTokenInfo(s).label.trim() === rotating.label);
      assert.ok(slot);
      const session = lease.pkcs11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      lease.pkcs11.C_SetPIN(session, rotating.pin, newPin);
      lease.pkcs11.C_CloseSession(session);
    } finally {
      lease.release();
    }
    // The module still holds the old login, so C_Login answers CKR_USER_ALREADY_LOGGED_IN: not a wrong PIN.
    const after = await Pkcs11Backend.connect({ ...rotated, pin: Buffer.from(newPin) });
    try {
      const identity = { uid: randomBytes(8).toString('hex'), namespace: 'ns', name: 'rotated', version: 1 };
      const { outcome } = await after.create(identity, { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
      assert.equal(outcome, 'created');
      await before.close();
      assert.ok(
        (await after.sign(identity, { message: Buffer.from('x') })).length > 0,
        'the new login holds',
      );
      await assert.rejects(
        Pkcs11Backend.connect({ ...rotated, pin: Buffer.from(rotating.pin) }),
        assertCleanError(PinIncorrectError, rotating.pin, newPin),
      );
    } finally {
      await before.close();
      await after.close();
    }
  });

  it('a missing module is ModuleNotFound', async () => {
    await assert.rejects(
      Pkcs11Backend.connect(config({ modulePath: '/nonexistent/libpkcs11.so' })),
      assertCleanError(ModuleNotFoundError, token.pin),
    );
  });

  it('a file that is no PKCS#11 module is ModuleNotFound', async () => {
    for (const modulePath of ['/etc/hostname', '/etc/passwd', buildNotPkcs11Library()]) {
      await assert.rejects(
        Pkcs11Backend.connect(config({ modulePath })),
        (error: unknown) =>
          assertCleanError(ModuleNotFoundError, token.pin)(error) &&
          /could not be loaded/.test(String(error)),
      );
    }
  });

  it('a module that hangs in C_Initialize or C_OpenSession is given up on, and never blocks the process', async () => {
    for (const fn of ['C_Initialize', 'C_OpenSession'] as const) {
      const modulePath = buildMisbehavingModule(fn, 'hang');
      let ticks = 0;
      const ticker = setInterval(() => (ticks += 1), 100);
      const started = performance.now();
      try {
        await assert.rejects(probeModule(modulePath, 3_000), (error: unknown) => {
          assert.ok(error instanceof RetryableError, inspect(error));
          assert.match(error.message, /did not initialize and open a session within 3s/);
          return true;
        });
      } finally {
        clearInterval(ticker);
      }
      // The event loop ran all along: the hung calls were in a child process, which is gone.
      assert.ok(ticks >= ((performance.now() - started) / 100) * 0.5, `${fn}: only ${ticks} ticks`);
    }
  });

  it('a module that crashes while initializing is ModuleNotFound and is never loaded into the process', async () => {
    await assert.rejects(
      Pkcs11Backend.connect(config({ modulePath: buildMisbehavingModule('C_Initialize', 'crash') })),
      (error: unknown) =>
        assertCleanError(ModuleNotFoundError, token.pin)(error) && /crashed \(SIGSEGV\)/.test(String(error)),
    );
  });

  it('a missing token is TokenNotFound and names the tokens that are there', async () => {
    await assert.rejects(
      Pkcs11Backend.connect(config({ token: { label: 'no-such-token' } })),
      (error: unknown) => {
        assertCleanError(TokenNotFoundError, token.pin)(error);
        assert.match(String(error), /keyward-connect/);
        assert.match(String(error), /keyward-other/);
        return true;
      },
    );
    await assert.rejects(
      Pkcs11Backend.connect(config({ token: { serial: '0000000000000000' } })),
      TokenNotFoundError,
    );
  });

  it('invalid configuration is Misconfigured before any login attempt', async () => {
    await assert.rejects(
      Pkcs11Backend.connect(config({ vendor: 'cloudhsm', pin: Buffer.from('password-without-user') })),
      assertCleanError(MisconfiguredError, 'password-without-user'),
    );
    await assert.rejects(
      Pkcs11Backend.connect(
        config({ token: { label: token.label, serial: 'x' } as unknown as Pkcs11Config['token'] }),
      ),
      MisconfiguredError,
    );
    await assert.rejects(Pkcs11Backend.connect(config({ maxSessions: 0 })), MisconfiguredError);
  });
});
