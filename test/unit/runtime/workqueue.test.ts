import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { RateLimiter } from '../../../src/runtime/ratelimiter.ts';
import { WorkQueue, maxDelayMs } from '../../../src/runtime/workqueue.ts';

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('WorkQueue', () => {
  it('hands out keys in FIFO order and dedups keys waiting in the queue', async () => {
    const queue = new WorkQueue();
    for (const key of ['a', 'b', 'a', 'c', 'b']) queue.add(key);
    assert.equal(queue.length, 3);
    assert.deepEqual([await queue.get(), await queue.get(), await queue.get()], ['a', 'b', 'c']);
    queue.shutDown();
  });

  it('turns N adds of a key being processed into exactly one re-run after done()', async () => {
    const queue = new WorkQueue();
    queue.add('ns/x');
    const key = await queue.get();
    assert.equal(key, 'ns/x');
    for (let i = 0; i < 1000; i++) queue.add('ns/x');
    // Not handed out again while it is being processed.
    assert.equal(queue.length, 0);
    queue.done('ns/x');
    assert.equal(queue.length, 1);
    assert.equal(await queue.get(), 'ns/x');
    queue.done('ns/x');
    assert.equal(queue.length, 0);
    queue.shutDown();
  });

  it('never gives one key to two workers at once', async () => {
    const queue = new WorkQueue();
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const key = await queue.get();
        if (key === undefined) return;
        running += 1;
        runs += 1;
        maxRunning = Math.max(maxRunning, running);
        await immediate();
        running -= 1;
        queue.done(key);
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    for (let i = 0; i < 50; i++) {
      queue.add('same');
      await immediate();
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    queue.shutDown();
    await Promise.all(workers);
    assert.equal(maxRunning, 1);
    assert.ok(runs >= 1 && runs <= 50, `runs=${runs}`);
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const queue = new WorkQueue();
    const pending = queue.get();
    queue.add('k');
    assert.equal(await pending, 'k');
    queue.shutDown();
  });

  it('adds a key after a delay, keeping the earliest of two pending delays', async () => {
    const queue = new WorkQueue();
    queue.addAfter('k', 60_000);
    queue.addAfter('k', 5);
    queue.addAfter('k', 30_000);
    assert.equal(queue.length, 0);
    assert.equal(await queue.get(), 'k');
    queue.done('k');
    queue.shutDown();
  });

  it('caps delays that setTimeout cannot represent instead of firing them at once', async () => {
    const queue = new WorkQueue();
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning.name);
    };
    process.on('warning', onWarning);
    queue.addAfter('k', 90 * 24 * 3600 * 1000);
    await new Promise((resolve) => setTimeout(resolve, 10));
    process.off('warning', onWarning);
    assert.equal(queue.length, 0);
    assert.ok(!warnings.includes('TimeoutOverflowWarning'));
    assert.ok(maxDelayMs < 90 * 24 * 3600 * 1000);
    queue.shutDown();
  });

  it('delays rate-limited adds by the rate limiter and forgets on request', async () => {
    const asked: string[] = [];
    const forgotten: string[] = [];
    const limiter: RateLimiter = {
      when: (item) => {
        asked.push(item);
        return 1;
      },
      forget: (item) => forgotten.push(item),
      numRequeues: () => 7,
    };
    let retries = 0;
    const queue = new WorkQueue({ rateLimiter: limiter, hooks: { retried: () => (retries += 1) } });
    queue.addRateLimited('k');
    assert.equal(await queue.get(), 'k');
    queue.forget('k');
    assert.deepEqual(asked, ['k']);
    assert.deepEqual(forgotten, ['k']);
    assert.equal(queue.numRequeues('k'), 7);
    assert.equal(retries, 1);
    queue.shutDown();
  });

  it('stops handing out keys on shutdown and reports drained once in-flight work is done', async () => {
    const queue = new WorkQueue();
    queue.add('a');
    queue.add('b');
    const waiting = new WorkQueue();
    const waiter = waiting.get();
    waiting.shutDown();
    assert.equal(await waiter, undefined);

    assert.equal(await queue.get(), 'a');
    queue.shutDown();
    assert.equal(await queue.get(), undefined);
    let drained = false;
    const drain = queue.drained().then(() => (drained = true));
    await immediate();
    assert.equal(drained, false);
    queue.done('a');
    await drain;
    assert.equal(drained, true);
    queue.add('c');
    assert.equal(queue.length, 1, 'b stays queued but is never handed out; c was ignored');
  });

  it('reports adds, queue wait and work duration to its hooks', async () => {
    let now = 1000;
    const seen: string[] = [];
    const queue = new WorkQueue({
      clock: { now: () => now },
      hooks: {
        added: () => seen.push('added'),
        taken: (s) => seen.push(`taken ${s}`),
        finished: (s) => seen.push(`finished ${s}`),
      },
    });
    queue.add('k');
    queue.add('k');
    now += 2000;
    await queue.get();
    assert.deepEqual(queue.processingStartTimes(), [3000]);
    now += 500;
    queue.done('k');
    assert.deepEqual(seen, ['added', 'taken 2', 'finished 0.5']);
    queue.shutDown();
  });
});
