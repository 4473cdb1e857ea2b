// An events.k8s.io/v1 recorder that folds repeats into a series, as client-go's event broadcaster does:
// - the first occurrence creates an Event (eventTime with microseconds);
// - the second, within the series window, patches `series` {count: 2, lastObservedTime} at once;
// - later repeats only count locally and are written by a periodic flush, so a reconcile loop that keeps
//   reporting the same thing costs one write per flush interval at most, and nothing once it stops;
// - a repeat after the window has passed starts a new Event.
// Recording never throws and never blocks a reconcile: write failures are logged.

import { randomBytes } from 'node:crypto';

import { silentLogger } from '../log.ts';
import type { Logger } from '../log.ts';
import type { ApiAccess } from '../kube/access.ts';
import type { KubeClient } from '../kube/client.ts';
import { isNotFound } from '../kube/errors.ts';
import type { KubeObject } from '../kube/object.ts';
import { builtinResources } from '../kube/resource.ts';
import type { Clock } from './clock.ts';
import { formatMicroTime, systemClock } from './clock.ts';

export type EventType = 'Normal' | 'Warning';

export interface EventInput {
  type: EventType;
  /** CamelCase, why the action was taken (KeyRotated, BackendUnreachable). */
  reason: string;
  /** CamelCase, what was done or failed (Rotate, Connect). */
  action: string;
  /** Human-readable detail, up to 1 kB; never a secret. */
  note?: string;
  /** A second object involved (the KeyBackend of a ManagedKey, say). */
  related?: KubeObject;
}

export interface EventRecorder {
  record(regarding: KubeObject, event: EventInput): void;
}

/** Where events are written: the API server (apiServerEventSink), or a test's memory. */
export interface EventSink {
  create(event: EventObject): Promise<void>;
  /** Updates the series of an existing Event; rejects with a NotFound error if the Event is gone. */
  patchSeries(event: EventObject, series: EventSeries): Promise<void>;
}

/** What apiServerEventSink does: create an Event, then patch its series. */
export const eventAccess: ApiAccess = { resource: builtinResources.events, verbs: ['create', 'patch'] };

export function apiServerEventSink(client: KubeClient): EventSink {
  return {
    async create(event) {
      await client.create(builtinResources.events, event);
    },
    async patchSeries(event, series) {
      await client.patch(builtinResources.events, event.metadata.name, event.metadata.namespace, 'merge', {
        series,
      });
    },
  };
}

export interface EventRecorderOptions {
  sink: EventSink;
  /** reportingController, e.g. keyward.io/operator */
  controller: string;
  /** reportingInstance, e.g. the pod name */
  instance: string;
  clock?: Clock;
  log?: Logger;
  /** Repeats within this long of the last one join its series (client-go: 6 min). */
  seriesWindowMs?: number;
  /** How often pending series counts are written. */
  flushIntervalMs?: number;
  /**
   * Series remembered at most (client-go's correlator keeps 4,096): the least recently seen is written and forgotten
   * first, so 10,000 keys each with an event do not hold 10,000 Events in memory for the window.
   */
  maxSeries?: number;
}

interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

export interface EventObject {
  apiVersion: 'events.k8s.io/v1';
  kind: 'Event';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  eventTime: string;
  reportingController: string;
  reportingInstance: string;
  action: string;
  reason: string;
  type: EventType;
  note?: string;
  regarding: ObjectReference;
  related?: ObjectReference;
  series?: EventSeries;
}

export interface EventSeries {
  count: number;
  lastObservedTime: string;
}

interface Series {
  event: EventObject;
  count: number;
  writtenCount: number;
  lastObservedMs: number;
  /** Writes of one series are chained so they reach the API server in order. */
  writes: Promise<void>;
}

const maxNoteBytes = 1024;

export class KubeEventRecorder implements EventRecorder {
  readonly #sink: EventSink;
  readonly #controller: string;
  readonly #instance: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #seriesWindowMs: number;
  readonly #maxSeries: number;
  /** In order of last observation (a repeat moves its series to the end). */
  readonly #series = new Map<string, Series>();
  readonly #timer: NodeJS.Timeout;

  constructor(options: EventRecorderOptions) {
    this.#sink = options.sink;
    this.#controller = options.controller;
    this.#instance = options.instance.slice(0, 128);
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? silentLogger;
    this.#seriesWindowMs = options.seriesWindowMs ?? 6 * 60_000;
    this.#maxSeries = options.maxSeries ?? 4096;
    this.#timer = setInterval(() => {
      void this.flush();
    }, options.flushIntervalMs ?? 30_000);
    this.#timer.unref();
  }

  record(regarding: KubeObject, input: EventInput): void {
    const now = this.#clock.now();
    const event = this.#eventFor(regarding, input, now);
    const key = seriesKey(event);
    const series = this.#series.get(key);
    if (series && now - series.lastObservedMs <= this.#seriesWindowMs) {
      series.count += 1;
      series.lastObservedMs = now;
      this.#series.delete(key);
      this.#series.set(key, series);
      if (series.count === 2) this.#write(series);
      return;
    }
    this.#series.delete(key);
    for (const [oldest, stale] of this.#series) {
      if (this.#series.size < this.#maxSeries) break;
      // Its writes are chained on the series object itself, so forgetting it here loses no count.
      this.#write(stale);
      this.#series.delete(oldest);
    }
    const fresh: Series = {
      event,
      count: 1,
      writtenCount: 0,
      lastObservedMs: now,
      writes: Promise.resolve(),
    };
    this.#series.set(key, fresh);
    this.#write(fresh);
  }

  /** Writes every pending series count, forgets series past their window, and waits for all writes. */
  async flush(): Promise<void> {
    const now = this.#clock.now();
    for (const [key, series] of this.#series) {
      if (series.count > series.writtenCount) this.#write(series);
      if (now - series.lastObservedMs > this.#seriesWindowMs) this.#series.delete(key);
    }
    await Promise.all([...this.#series.values()].map((series) => series.writes));
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }

  #write(series: Series): void {
    series.writes = series.writes.then(async () => {
      const count = series.count;
      if (count <= series.writtenCount) return;
      try {
        await this.#send(series, count);
        series.writtenCount = count;
      } catch (err) {
        this.#log.warn('cannot write event', {
          reason: series.event.reason,
          regarding: `${series.event.regarding.kind ?? ''}/${series.event.regarding.name ?? ''}`,
          err,
        });
      }
    });
  }

  async #send(series: Series, count: number): Promise<void> {
    const { event } = series;
    const seriesField: EventSeries = { count, lastObservedTime: formatMicroTime(series.lastObservedMs) };
    if (series.writtenCount > 0) {
      try {
        await this.#sink.patchSeries(event, seriesField);
        return;
      } catch (err) {
        if (!isNotFound(err)) throw err;
        // The Event expired (the API server keeps them for an hour): continue the series in a new one.
        event.metadata.name = eventName(event.regarding.name ?? 'event', this.#clock.now());
      }
    }
    await this.#sink.create(count > 1 ? { ...event, series: seriesField } : event);
  }

  #eventFor(regarding: KubeObject, input: EventInput, now: number): EventObject {
    const reference = referenceTo(regarding);
    return {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      // Events about cluster-scoped objects go to the default namespace, as client-go does.
      metadata: {
        name: eventName(reference.name ?? 'event', now),
        namespace: reference.namespace ?? 'default',
      },
      eventTime: formatMicroTime(now),
      reportingController: this.#controller,
      reportingInstance: this.#instance,
      action: input.action,
      reason: input.reason,
      type: input.type,
      ...(input.note === undefined ? {} : { note: truncateUtf8(input.note, maxNoteBytes) }),
      regarding: reference,
      ...(input.related === undefined ? {} : { related: referenceTo(input.related) }),
    };
  }
}

function referenceTo(object: KubeObject): ObjectReference {
  const { name, namespace, uid, resourceVersion } = object.metadata;
  return { apiVersion: object.apiVersion, kind: object.kind, name, namespace, uid, resourceVersion };
}

/** What makes two events "the same" for a series (client-go's isomorphic key, without resourceVersion). */
function seriesKey(event: EventObject): string {
  const ref = (r: ObjectReference | undefined): unknown[] => [
    r?.apiVersion,
    r?.kind,
    r?.namespace,
    r?.name,
    r?.uid,
  ];
  return JSON.stringify([
    ref(event.regarding),
    ref(event.related),
    event.reason,
    event.action,
    event.type,
    event.note,
    event.reportingController,
  ]);
}

function eventName(regardingName: string, now: number): string {
  // Unique and sortable like client-go's "<name>.<unix nanos hex>", with random bits against same-ms collisions.
  const suffix = `${Math.floor(now).toString(16)}${randomBytes(4).toString('hex')}`;
  return `${regardingName.slice(0, 253 - suffix.length - 1)}.${suffix}`;
}

function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let cut = text.slice(0, maxBytes);
  while (Buffer.byteLength(cut) > maxBytes) cut = cut.slice(0, -1);
  return cut;
}
