// The operator's Prometheus registry, with controller-runtime's metric names, labels and buckets so existing
// dashboards and alerts work unchanged, plus Node's process metrics.
//
// Domain metrics are computed at scrape time from the informer caches (as cert-manager does) rather than
// kept up to date on every change: register them with `scrapeTimeGauge`, or create any prom-client metric
// with `registers: [metrics.registry]` and a `collect()` callback.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const reconcileTimeBuckets = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25,
  1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];

/** prometheus.ExponentialBuckets(10e-9, 10, 12): 10 ns .. 1000 s. */
const workQueueBuckets = Array.from({ length: 12 }, (_, i) => Number((1e-8 * 10 ** i).toPrecision(1)));

export type ReconcileResultLabel = 'success' | 'error' | 'requeue' | 'requeue_after';

/** What one controller reports. */
export interface ControllerMetrics {
  reconciled(result: ReconcileResultLabel, seconds: number): void;
  /** A reconcile error; `terminal` ones are not retried, `panic` ones are programming faults. */
  failed(kind: { terminal: boolean; panic: boolean }): void;
  setWorkers(max: number): void;
  activeWorkers(delta: number): void;
}

/** Work queue observers (see WorkQueueHooks) and the live state read at scrape time. */
export interface WorkQueueMetrics {
  added(): void;
  retried(): void;
  taken(waitedSeconds: number): void;
  finished(workedSeconds: number): void;
}

export interface WorkQueueState {
  readonly length: number;
  processingStartTimes(): number[];
}

export interface ScrapeTimeGaugeOptions<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  /** Called on every scrape; yields the current value of each label set. Label sets not yielded disappear. */
  collect():
    | Iterable<{ labels?: Partial<Record<L, string>>; value: number }>
    | Promise<Iterable<{ labels?: Partial<Record<L, string>>; value: number }>>;
}

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly #reconcileTotal: Counter<'controller' | 'result'>;
  readonly #reconcileErrors: Counter<'controller'>;
  readonly #terminalErrors: Counter<'controller'>;
  readonly #panics: Counter<'controller'>;
  readonly #reconcileTime: Histogram<'controller'>;
  readonly #maxConcurrent: Gauge<'controller'>;
  readonly #activeWorkers: Gauge<'controller'>;
  readonly #queueAdds: Counter<'name' | 'controller'>;
  readonly #queueRetries: Counter<'name' | 'controller'>;
  readonly #queueLatency: Histogram<'name' | 'controller'>;
  readonly #workDuration: Histogram<'name' | 'controller'>;
  readonly #queues = new Map<string, WorkQueueState>();
  readonly #leader: Gauge<'name'>;
  readonly #restRequests: Counter<'code' | 'method' | 'host'>;
  readonly #now: () => number;

  constructor(options: { processMetrics?: boolean; now?: () => number } = {}) {
    const registers = [this.registry];
    this.#now = options.now ?? Date.now;
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });

    this.#reconcileTotal = new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.#reconcileErrors = new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    });
    this.#terminalErrors = new Counter({
      name: 'controller_runtime_terminal_reconcile_errors_total',
      help: 'Total number of terminal reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    });
    this.#panics = new Counter({
      name: 'controller_runtime_reconcile_panics_total',
      help: 'Total number of reconciliation panics per controller',
      labelNames: ['controller'],
      registers,
    });
    this.#reconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: reconcileTimeBuckets,
      registers,
    });
    this.#maxConcurrent = new Gauge({
      name: 'controller_runtime_max_concurrent_reconciles',
      help: 'Maximum number of concurrent reconciles per controller',
      labelNames: ['controller'],
      registers,
    });
    this.#activeWorkers = new Gauge({
      name: 'controller_runtime_active_workers',
      help: 'Number of currently used workers per controller',
      labelNames: ['controller'],
      registers,
    });

    const queues = this.#queues;
    const now = this.#now;
    new Gauge({
      name: 'workqueue_depth',
      help: 'Current depth of workqueue by workqueue and priority',
      labelNames: ['name', 'controller', 'priority'],
      registers,
      collect() {
        for (const [name, queue] of queues) this.set({ name, controller: name, priority: '' }, queue.length);
      },
    });
    this.#queueAdds = new Counter({
      name: 'workqueue_adds_total',
      help: 'Total number of adds handled by workqueue',
      labelNames: ['name', 'controller'],
      registers,
    });
    this.#queueLatency = new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames: ['name', 'controller'],
      buckets: workQueueBuckets,
      registers,
    });
    this.#workDuration = new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes.',
      labelNames: ['name', 'controller'],
      buckets: workQueueBuckets,
      registers,
    });
    new Gauge({
      name: 'workqueue_unfinished_work_seconds',
      help:
        "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. " +
        'Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate ' +
        'at which this increases.',
      labelNames: ['name', 'controller'],
      registers,
      collect() {
        const at = now();
        for (const [name, queue] of queues) {
          const total = queue.processingStartTimes().reduce((sum, start) => sum + (at - start) / 1000, 0);
          this.set({ name, controller: name }, total);
        }
      },
    });
    new Gauge({
      name: 'workqueue_longest_running_processor_seconds',
      help: 'How many seconds has the longest running processor for workqueue been running.',
      labelNames: ['name', 'controller'],
      registers,
      collect() {
        const at = now();
        for (const [name, queue] of queues) {
          const oldest = Math.min(at, ...queue.processingStartTimes());
          this.set({ name, controller: name }, (at - oldest) / 1000);
        }
      },
    });
    this.#queueRetries = new Counter({
      name: 'workqueue_retries_total',
      help: 'Total number of retries handled by workqueue',
      labelNames: ['name', 'controller'],
      registers,
    });
    this.#leader = new Gauge({
      name: 'leader_election_master_status',
      help:
        'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates ' +
        "master. 'name' is the string used to identify the lease. Please make sure to group by name.",
      labelNames: ['name'],
      registers,
    });
    this.#restRequests = new Counter({
      name: 'rest_client_requests_total',
      help: 'Number of HTTP requests, partitioned by status code, method, and host.',
      labelNames: ['code', 'method', 'host'],
      registers,
    });
  }

  /** Counts an API server request; `code` undefined means it failed without a response. */
  apiRequest(host: string, method: string, code: number | undefined): void {
    this.#restRequests.inc({ code: code === undefined ? '<error>' : String(code), method, host });
  }

  controller(name: string): ControllerMetrics {
    const labels = { controller: name };
    // Zero-valued series from the start, so rate() and absent() work before the first reconcile.
    for (const result of ['success', 'error', 'requeue', 'requeue_after'] as const) {
      this.#reconcileTotal.inc({ ...labels, result }, 0);
    }
    this.#reconcileErrors.inc(labels, 0);
    this.#terminalErrors.inc(labels, 0);
    this.#panics.inc(labels, 0);
    this.#activeWorkers.set(labels, 0);
    return {
      reconciled: (result, seconds) => {
        this.#reconcileTotal.inc({ ...labels, result });
        this.#reconcileTime.observe(labels, seconds);
      },
      failed: ({ terminal, panic }) => {
        this.#reconcileErrors.inc(labels);
        if (terminal) this.#terminalErrors.inc(labels);
        if (panic) this.#panics.inc(labels);
      },
      setWorkers: (max) => {
        this.#maxConcurrent.set(labels, max);
      },
      activeWorkers: (delta) => {
        this.#activeWorkers.inc(labels, delta);
      },
    };
  }

  /** Registers a controller's work queue; its depth and in-flight times are read at each scrape. */
  workQueue(name: string, state: WorkQueueState): WorkQueueMetrics {
    this.#queues.set(name, state);
    const labels = { name, controller: name };
    this.#queueAdds.inc(labels, 0);
    this.#queueRetries.inc(labels, 0);
    return {
      added: () => {
        this.#queueAdds.inc(labels);
      },
      retried: () => {
        this.#queueRetries.inc(labels);
      },
      taken: (seconds) => {
        this.#queueLatency.observe(labels, seconds);
      },
      finished: (seconds) => {
        this.#workDuration.observe(labels, seconds);
      },
    };
  }

  setLeader(leaseName: string, isLeader: boolean): void {
    this.#leader.set({ name: leaseName }, isLeader ? 1 : 0);
  }

  /** A gauge whose values are computed on every scrape (domain metrics from the caches). */
  scrapeTimeGauge<L extends string>(options: ScrapeTimeGaugeOptions<L>): Gauge<L> {
    return new Gauge<L>({
      name: options.name,
      help: options.help,
      labelNames: options.labelNames ?? [],
      registers: [this.registry],
      async collect() {
        const samples = await options.collect();
        this.reset();
        for (const { labels, value } of samples) {
          if (labels) this.set(labels, value);
          else this.set(value);
        }
      },
    });
  }

  /** The exposition text of every metric. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
