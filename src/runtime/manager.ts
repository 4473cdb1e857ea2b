// The manager runs a set of controllers over shared informers: one informer per (resource, namespace,
// label selector), whichever controllers read it.
//
// Start: informers start at once, on every replica, so a standby has a warm cache and is ready. Controllers
// start once the informers are synced and, with leader election, once this replica leads.
// Stop (SIGTERM): stop taking work, let in-flight reconciles finish (up to a timeout), release the lease so a
// standby takes over at once, then stop the informers and flush pending events. When the timeout passes with a
// reconcile still running, keep the lease instead: that reconcile may still write, so no standby may start
// before the lease expires, by which time this process has exited.
// Leadership lost: stop taking work at once and report it; the process must exit (another replica may
// already be reconciling, so draining would only risk two writers).

import type { OperatorConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import type { KubeClient } from '../kube/client.ts';
import type { KubeObject } from '../kube/object.ts';
import { describeResource } from '../kube/resource.ts';
import type { OperatorMetrics } from '../metrics/registry.ts';
import { sleep } from './backoff.ts';
import type { Clock } from './clock.ts';
import { systemClock } from './clock.ts';
import { Controller } from './controller.ts';
import type { ControllerDefinition, WatchSource } from './controller.ts';
import { KubeEventRecorder, apiServerEventSink } from './events.ts';
import type { EventRecorder } from './events.ts';
import { Informer } from './informer.ts';
import type { InformerTuning } from './informer.ts';
import { LeaderElector } from './leaderelection.ts';
import type { LeaderElectionTiming } from './leaderelection.ts';

export interface LeaderElectionConfig extends LeaderElectionTiming {
  namespace: string;
  /** Lease name. */
  id: string;
  identity?: string;
}

export interface ManagerOptions {
  client: KubeClient;
  log: Logger;
  metrics: OperatorMetrics;
  clock?: Clock;
  /** Limit namespaced informers to one namespace (--watch-namespace); all namespaces when unset. */
  watchNamespace?: string | undefined;
  /** Leader election; every replica reconciles when unset. */
  leaderElection?: LeaderElectionConfig | undefined;
  /** How long a graceful stop waits for in-flight reconciles. */
  gracefulShutdownTimeoutMs?: number;
  /** reportingController of events. */
  eventController?: string;
  /** reportingInstance of events (the pod name). */
  eventInstance?: string;
  recorder?: EventRecorder;
  informerTuning?: InformerTuning;
}

export type ManagerExit = { reason: 'stopped' } | { reason: 'leadership-lost' };

/** Adds a set of controllers (with the indexes they need) to the manager; main.ts passes every one it starts. */
export type ControllerFactory = (manager: Manager, config: OperatorConfig) => void;

export class Manager {
  readonly client: KubeClient;
  readonly log: Logger;
  readonly metrics: OperatorMetrics;
  readonly clock: Clock;
  readonly recorder: EventRecorder;
  readonly #options: ManagerOptions;
  readonly #informers = new Map<string, Informer<KubeObject>>();
  readonly #controllers: Controller<KubeObject>[] = [];
  readonly #elector: LeaderElector | undefined;
  readonly #ownRecorder: KubeEventRecorder | undefined;
  readonly #stopStarting = new AbortController();
  #exit: (exit: ManagerExit) => void = () => undefined;
  readonly exited: Promise<ManagerExit>;
  #started = false;
  #stopping: Promise<void> | undefined;

  constructor(options: ManagerOptions) {
    this.#options = options;
    this.client = options.client;
    this.log = options.log;
    this.metrics = options.metrics;
    this.clock = options.clock ?? systemClock;
    this.exited = new Promise((resolve) => (this.#exit = resolve));
    if (options.recorder) {
      this.recorder = options.recorder;
    } else {
      this.#ownRecorder = new KubeEventRecorder({
        sink: apiServerEventSink(options.client),
        controller: options.eventController ?? 'keyward.io/operator',
        instance: options.eventInstance ?? options.leaderElection?.identity ?? 'keyward',
        clock: this.clock,
        log: options.log.child({ component: 'events' }),
      });
      this.recorder = this.#ownRecorder;
    }
    const election = options.leaderElection;
    if (election) {
      this.#elector = new LeaderElector({
        ...election,
        client: options.client,
        name: election.id,
        clock: this.clock,
        log: options.log.child({ component: 'leader-election' }),
        onLeaderChange: (leader) => {
          options.metrics.setLeader(election.id, leader);
        },
      });
      options.metrics.setLeader(election.id, false);
    }
  }

  /** The shared informer for a resource (in the watch namespace unless the source names one). */
  informer<T extends KubeObject>(source: WatchSource): Informer<T> {
    const namespace = source.resource.namespaced
      ? (source.namespace ?? this.#options.watchNamespace)
      : undefined;
    const id = JSON.stringify([
      describeResource(source.resource),
      namespace ?? '',
      source.labelSelector ?? '',
    ]);
    let informer = this.#informers.get(id);
    if (!informer) {
      informer = new Informer(this.client, source.resource, {
        namespace,
        labelSelector: source.labelSelector,
        log: this.log,
        ...this.#options.informerTuning,
      });
      this.#informers.set(id, informer);
      if (this.#started) informer.start();
    }
    return informer as unknown as Informer<T>;
  }

  addController<T extends KubeObject>(definition: ControllerDefinition<T>): Controller<T> {
    if (this.#started) throw new Error('add controllers before starting the manager');
    const controller = new Controller<T>(definition, {
      informer: (source) => this.informer(source),
      client: this.client,
      recorder: this.recorder,
      clock: this.clock,
      log: this.log,
      metrics: this.metrics,
    });
    this.#controllers.push(controller as unknown as Controller<KubeObject>);
    return controller;
  }

  /** Ready when every informer has synced; leadership does not matter (a standby is ready too). */
  get ready(): boolean {
    return [...this.#informers.values()].every((informer) => informer.hasSynced);
  }

  get isLeader(): boolean {
    return this.#elector ? this.#elector.isLeader : this.#started;
  }

  get identity(): string | undefined {
    return this.#elector?.identity;
  }

  /** Starts informers, and controllers once synced (and leading). Returns at once; see `exited`. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const informer of this.#informers.values()) informer.start();
    void this.#startControllersWhenSynced();
  }

  async #startControllersWhenSynced(): Promise<void> {
    const signal = this.#stopStarting.signal;
    const waiting = setInterval(() => {
      const pending = [...this.#informers.values()].filter((informer) => !informer.hasSynced);
      this.log.info('waiting for informers to sync', {
        informers: pending.map((informer) => describeResource(informer.resource)),
      });
    }, 30_000);
    await Promise.all([...this.#informers.values()].map((informer) => informer.waitForSync(signal)));
    clearInterval(waiting);
    if (signal.aborted) return;
    const startControllers = (): void => {
      for (const controller of this.#controllers) controller.start();
    };
    if (!this.#elector) {
      startControllers();
      return;
    }
    this.#elector.run({
      onStartedLeading: startControllers,
      onStoppedLeading: () => {
        for (const controller of this.#controllers) controller.abandon();
        this.#exit({ reason: 'leadership-lost' });
      },
    });
  }

  /** Graceful stop; safe to call more than once. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#stopStarting.abort();
    const timeoutMs = this.#options.gracefulShutdownTimeoutMs ?? 30_000;
    const drained = Promise.all(this.#controllers.map((controller) => controller.stop()));
    const timer = new AbortController();
    const timedOut = await Promise.race([
      drained.then(() => false),
      sleep(timeoutMs, timer.signal).then(() => !timer.signal.aborted),
    ]);
    timer.abort();
    if (timedOut) {
      this.log.warn(
        'reconciles still running after the graceful shutdown timeout; not releasing the lease, it will expire',
        { timeoutMs },
      );
      await this.#elector?.stop();
    } else {
      await this.#elector?.release();
    }
    await Promise.all([...this.#informers.values()].map((informer) => informer.stop()));
    await this.#ownRecorder?.stop();
    this.#exit({ reason: 'stopped' });
  }
}
