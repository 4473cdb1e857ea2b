import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { KubeApiError } from '../../../src/kube/errors.ts';
import { KubeEventRecorder } from '../../../src/runtime/events.ts';
import type { EventObject, EventSeries, EventSink } from '../../../src/runtime/events.ts';

type Write = { op: 'create'; event: EventObject } | { op: 'patch'; name: string; series: EventSeries };

function memorySink(): EventSink & { writes: Write[]; names: Set<string> } {
  const writes: Write[] = [];
  const names = new Set<string>();
  return {
    writes,
    names,
    create: (event) => {
      writes.push({ op: 'create', event: structuredClone(event) });
      names.add(event.metadata.name);
      return Promise.resolve();
    },
    patchSeries: (event, series) => {
      if (!names.has(event.metadata.name)) return Promise.reject(new KubeApiError(404, 'gone', 'NotFound'));
      writes.push({ op: 'patch', name: event.metadata.name, series: { ...series } });
      return Promise.resolve();
    },
  };
}

const key = {
  apiVersion: 'keyward.io/v1alpha1',
  kind: 'ManagedKey',
  metadata: { namespace: 'payments', name: 'signing', uid: 'u1', resourceVersion: '7' },
};
const backend = {
  apiVersion: 'keyward.io/v1alpha1',
  kind: 'KeyBackend',
  metadata: { name: 'hsm', uid: 'u2' },
};
const t0 = Date.UTC(2024, 0, 1, 12, 0, 0);

function recorder(sink: EventSink, clock: { now: () => number }) {
  return new KubeEventRecorder({
    sink,
    controller: 'keyward.io/operator',
    instance: 'pod-1',
    clock,
    seriesWindowMs: 6 * 60_000,
    flushIntervalMs: 3_600_000,
  });
}

describe('event recorder', () => {
  it('creates an events.k8s.io/v1 Event with a microsecond eventTime', async () => {
    const sink = memorySink();
    const events = recorder(sink, { now: () => t0 + 0.25 });
    events.record(key, {
      type: 'Normal',
      reason: 'KeyRotated',
      action: 'Rotate',
      note: 'version 3',
      related: backend,
    });
    await events.stop();
    assert.equal(sink.writes.length, 1);
    const write = sink.writes[0];
    assert.equal(write?.op, 'create');
    const event = write.event;
    assert.deepEqual(
      { ...event, metadata: { ...event.metadata, name: undefined } },
      {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name: undefined, namespace: 'payments' },
        eventTime: '2024-01-01T12:00:00.000250Z',
        reportingController: 'keyward.io/operator',
        reportingInstance: 'pod-1',
        action: 'Rotate',
        reason: 'KeyRotated',
        type: 'Normal',
        note: 'version 3',
        regarding: {
          apiVersion: key.apiVersion,
          kind: key.kind,
          name: 'signing',
          namespace: 'payments',
          uid: 'u1',
          resourceVersion: '7',
        },
        related: {
          apiVersion: backend.apiVersion,
          kind: backend.kind,
          name: 'hsm',
          namespace: undefined,
          uid: 'u2',
          resourceVersion: undefined,
        },
      },
    );
    assert.match(event.metadata.name, /^signing\.[0-9a-f]+$/);
  });

  it('folds repeats into one series: patch at the 2nd, then only the final count on flush', async () => {
    const sink = memorySink();
    let now = t0;
    const events = recorder(sink, { now: () => now });
    for (let i = 0; i < 50; i++) {
      events.record(key, {
        type: 'Warning',
        reason: 'BackendUnreachable',
        action: 'Connect',
        note: 'timeout',
      });
      now += 1000;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await events.flush();
    assert.deepEqual(
      sink.writes.map((w) => (w.op === 'create' ? 'create' : `patch ${w.series.count}`)),
      ['create', 'patch 2', 'patch 50'],
    );
    const last = sink.writes.at(-1);
    assert.equal(last?.op === 'patch' ? last.series.lastObservedTime : '', '2024-01-01T12:00:49.000000Z');
    await events.flush();
    assert.equal(sink.writes.length, 3, 'nothing new, nothing written');
    await events.stop();
  });

  it('remembers a bounded number of series, writing the least recently seen before forgetting it', async () => {
    const sink = memorySink();
    const events = new KubeEventRecorder({
      sink,
      controller: 'keyward.io/operator',
      instance: 'pod-1',
      clock: { now: () => t0 },
      flushIntervalMs: 3_600_000,
      maxSeries: 2,
    });
    const on = (name: string) => ({ ...key, metadata: { ...key.metadata, name, uid: name } });
    const created = { type: 'Normal', reason: 'KeyCreated', action: 'Generate' } as const;
    const settled = () => new Promise((resolve) => setImmediate(resolve));
    events.record(on('a'), created);
    await settled();
    events.record(on('a'), created); // the second of a series is written at once
    await settled();
    events.record(on('b'), created);
    events.record(on('a'), created); // count 3, left for the next flush; b is now the least recently seen
    events.record(on('c'), created); // forgets b, written in full
    events.record(on('d'), created); // forgets a: its count 3 is written first
    events.record(on('b'), created); // b again: a new Event, not a series of the forgotten one
    await events.flush();
    // Each series' writes are in order; different series' writes interleave.
    const written = (name: string) =>
      sink.writes.flatMap((w) => {
        if (w.op === 'create') return w.event.regarding.name === name ? ['create'] : [];
        return w.name.startsWith(`${name}.`) ? [`patch ${w.series.count}`] : [];
      });
    assert.deepEqual(written('a'), ['create', 'patch 2', 'patch 3']);
    assert.deepEqual(written('b'), ['create', 'create']);
    assert.deepEqual(written('c'), ['create']);
    await events.stop();
  });

  it('keeps different reasons, notes or objects apart', async () => {
    const sink = memorySink();
    const events = recorder(sink, { now: () => t0 });
    events.record(key, { type: 'Normal', reason: 'A', action: 'X' });
    events.record(key, { type: 'Normal', reason: 'B', action: 'X' });
    events.record(key, { type: 'Normal', reason: 'A', action: 'X', note: 'other' });
    events.record(backend, { type: 'Normal', reason: 'A', action: 'X' });
    await events.stop();
    assert.deepEqual(
      sink.writes.map((w) => w.op),
      ['create', 'create', 'create', 'create'],
    );
    const cluster = sink.writes[3];
    assert.equal(cluster?.op === 'create' ? cluster.event.metadata.namespace : '', 'default');
  });

  it('starts a new Event after the series window, and when the old Event is gone', async () => {
    const sink = memorySink();
    let now = t0;
    const events = recorder(sink, { now: () => now });
    const input = { type: 'Normal', reason: 'Synced', action: 'Sync' } as const;
    events.record(key, input);
    now += 7 * 60_000;
    events.record(key, input);
    await events.flush();
    assert.deepEqual(
      sink.writes.map((w) => w.op),
      ['create', 'create'],
    );
    sink.names.clear(); // the API server expired them
    events.record(key, input);
    await events.flush();
    const recreated = sink.writes.at(-1);
    assert.equal(recreated?.op, 'create');
    assert.equal(recreated.event.series?.count, 2);
    await events.stop();
  });

  it('truncates notes to 1 kB on a character boundary', async () => {
    const sink = memorySink();
    const events = recorder(sink, { now: () => t0 });
    events.record(key, { type: 'Normal', reason: 'Long', action: 'X', note: 'é'.repeat(1000) });
    await events.stop();
    const write = sink.writes[0];
    const note = write?.op === 'create' ? (write.event.note ?? '') : '';
    assert.equal(Buffer.byteLength(note), 1024);
    assert.equal(note, 'é'.repeat(512));
  });
});
