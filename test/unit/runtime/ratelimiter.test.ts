import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  ItemExponentialRateLimiter,
  MaxOfRateLimiter,
  TokenBucketRateLimiter,
  defaultControllerRateLimiter,
} from '../../../src/runtime/ratelimiter.ts';

describe('ItemExponentialRateLimiter', () => {
  it('doubles from 5 ms per failure up to 1000 s, per item', () => {
    const limiter = new ItemExponentialRateLimiter(5, 1_000_000);
    const delays = Array.from({ length: 20 }, () => limiter.when('a'));
    assert.deepEqual(delays.slice(0, 5), [5, 10, 20, 40, 80]);
    assert.equal(delays[17], 5 * 2 ** 17);
    assert.equal(delays[18], 1_000_000);
    assert.equal(delays[19], 1_000_000);
    assert.equal(limiter.when('b'), 5, 'other items have their own history');
    assert.equal(limiter.numRequeues('a'), 20);
    limiter.forget('a');
    assert.equal(limiter.numRequeues('a'), 0);
    assert.equal(limiter.when('a'), 5);
  });
});

describe('TokenBucketRateLimiter', () => {
  it('allows a burst, then spaces requests at 1/qps, and refills with time', () => {
    let now = 0;
    const limiter = new TokenBucketRateLimiter({ qps: 10, burst: 100, clock: { now: () => now } });
    for (let i = 0; i < 100; i++) assert.equal(limiter.when(), 0);
    assert.equal(limiter.when(), 100);
    assert.equal(limiter.when(), 200);
    assert.equal(limiter.when(), 300);
    now += 1000; // ten tokens come back, three were already promised
    for (let i = 0; i < 7; i++) assert.equal(limiter.when(), 0);
    assert.equal(limiter.when(), 100);
    now += 3_600_000; // never more than the burst
    for (let i = 0; i < 100; i++) assert.equal(limiter.when(), 0);
    assert.ok(limiter.when() > 0);
  });
});

describe('MaxOfRateLimiter / default controller rate limiter', () => {
  it('takes the longest delay of its limiters', () => {
    let now = 0;
    const limiter = new MaxOfRateLimiter(
      new ItemExponentialRateLimiter(5, 1_000_000),
      new TokenBucketRateLimiter({ qps: 1, burst: 2, clock: { now: () => now } }),
    );
    assert.equal(limiter.when('a'), 5);
    assert.equal(limiter.when('b'), 5);
    assert.equal(limiter.when('c'), 1000, 'bucket empty: 1 s');
    now += 10_000;
    assert.equal(limiter.when('a'), 10, 'per-item backoff dominates');
    assert.equal(limiter.numRequeues('a'), 2);
    limiter.forget('a');
    assert.equal(limiter.numRequeues('a'), 0);
  });

  it('defaults to 5 ms per item and a 100-burst bucket', () => {
    const limiter = defaultControllerRateLimiter({ now: () => 0 });
    const first = Array.from({ length: 100 }, (_, i) => limiter.when(`k${i}`));
    assert.ok(first.every((delay) => delay === 5));
    assert.equal(limiter.when('k100'), 100);
  });
});
