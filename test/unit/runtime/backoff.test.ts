import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Backoff, sleep } from '../../../src/runtime/backoff.ts';

describe('Backoff', () => {
  it('grows exponentially up to the maximum, without jitter when random() is 0', () => {
    const backoff = new Backoff({ initialMs: 800, maxMs: 30_000, random: () => 0 });
    const delays = Array.from({ length: 8 }, () => backoff.next());
    assert.deepEqual(delays, [800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000]);
    backoff.reset();
    assert.equal(backoff.next(), 800);
  });

  it('stretches each delay by up to jitter times itself', () => {
    const backoff = new Backoff({ initialMs: 1000, maxMs: 1000, jitter: 0.5, random: () => 0.999 });
    const delay = backoff.next();
    assert.ok(delay > 1000 && delay < 1500, String(delay));
  });
});

describe('sleep', () => {
  it('returns early when its signal aborts', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const pending = sleep(60_000, controller.signal);
    controller.abort();
    await pending;
    assert.ok(performance.now() - started < 60_000);
    await sleep(10, AbortSignal.abort());
  });
});
