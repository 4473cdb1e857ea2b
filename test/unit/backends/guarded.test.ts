// The wrapper every backend gets: a deadline on each call and no action on a version recorded on another target.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KeyBackend } from '../../../src/backends/backend.ts';
import { RetryableError, TargetMismatchError } from '../../../src/backends/errors.ts';
import { guarded, openWithin } from '../../../src/backends/guarded.ts';

/** A backend whose calls never answer until aborted, recording the signals they were given. */
function hangingBackend(signals: AbortSignal[]): KeyBackend {
  const hang = (options?: { signal?: AbortSignal }) => {
    if (options?.signal) signals.push(options.signal);
    return new Promise<never>(() => undefined);
  };
  return {
    type: 'test',
    target: { id: 'target-a', description: 'test target A' },
    capabilities: () => {
      throw new Error('not used');
    },
    health: (options) => hang(options),
    observe: (_identity, options) => hang(options),
    versions: (_identity, options) => hang(options),
    create: (_identity, _spec, options) => hang(options),
    publicKey: (_identity, options) => hang(options),
    sign: (_identity, _input, options) => hang(options),
    verify: (_identity, _input, _signature, options) => hang(options),
    setUsages: (_identity, _usages, options) => hang(options),
    destroy: (_identity, request) => hang(request),
    refresh: (options) => hang(options),
    close: () => Promise.resolve(),
  };
}

const identity = { uid: 'u', namespace: 'n', name: 'k', version: 1 };

describe('guarded backends', () => {
  it('ends a call that does not answer within its deadline, and tells the backend so through its signal', async () => {
    const signals: AbortSignal[] = [];
    const backend = guarded(hangingBackend(signals), { createMs: 120, otherMs: 40 });
    const started = performance.now();
    await assert.rejects(backend.observe(identity), (error: unknown) => {
      assert.ok(error instanceof RetryableError);
      assert.match(error.message, /observe on test target A did not answer within 0\.04s/);
      return true;
    });
    assert.ok(performance.now() - started < 1_000);
    assert.equal(signals[0]?.aborted, true);
    const createStarted = performance.now();
    await assert.rejects(
      backend.create(identity, { algorithm: 'EC_P256', usages: ['sign'] }),
      RetryableError,
    );
    assert.ok(performance.now() - createStarted >= 100, 'generation has its own, longer deadline');
  });

  it("ends a call when the caller's own signal aborts", async () => {
    const backend = guarded(hangingBackend([]), { createMs: 60_000, otherMs: 60_000 });
    const controller = new AbortController();
    const pending = backend.sign(identity, { message: Buffer.from('x') }, { signal: controller.signal });
    controller.abort();
    await assert.rejects(pending, /was cancelled/);
  });

  it('refuses, without calling the backend, a version recorded on another target', async () => {
    const signals: AbortSignal[] = [];
    const backend = guarded(hangingBackend(signals));
    const elsewhere = { ...identity, target: 'target-b' };
    await assert.rejects(backend.destroy(elsewhere, { delaySeconds: 0 }), TargetMismatchError);
    await assert.rejects(backend.setUsages(elsewhere, []), TargetMismatchError);
    assert.equal(signals.length, 0, 'the backend was never called');
  });

  it('gives up opening a backend after the deadline, and closes the one that opens late', async () => {
    let closed = 0;
    let opened: (backend: KeyBackend) => void = () => undefined;
    const late = new Promise<KeyBackend>((resolve) => (opened = resolve));
    await assert.rejects(
      openWithin(() => late, 'the test backend', 50),
      (error: unknown) => {
        assert.ok(error instanceof RetryableError);
        assert.match(error.message, /connecting to the test backend did not finish within 0\.05s/);
        return true;
      },
    );
    opened({ ...hangingBackend([]), close: () => Promise.resolve(void (closed += 1)) });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(closed, 1, 'nobody holds the late backend: it is closed');
    const onTime = hangingBackend([]);
    assert.equal(await openWithin(() => Promise.resolve(onTime), 'the test backend', 50), onTime);
  });
});
