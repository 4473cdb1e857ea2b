// Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules:
// - another holder's lease is valid until leaseDuration after the moment *we* last saw its record change
//   (local observation time, so clock skew between nodes does not matter);
// - every write carries the resourceVersion we read: a 409 means someone else wrote first, and we lost;
// - one deadline for a whole renewal, every retry and request in it included: a leader that has not renewed
//   within renewDeadline of the start of its last successful renewal steps down by then, even with a request
//   still in flight. A standby counts leaseDuration from a later moment (when it saw that renewal), so with
//   renewDeadline < leaseDuration the leader stops before anyone else may start, whatever retryPeriod is;
// - on shutdown the leader releases the lease (empty holder), so a standby takes over at its next retry
//   instead of waiting for the lease to expire; or it stops without releasing (see stop()).

import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';

import type { Logger } from '../log.ts';
import type { ApiAccess } from '../kube/access.ts';
import type { KubeClient } from '../kube/client.ts';
import { isAlreadyExists, isConflict, isNotFound } from '../kube/errors.ts';
import type { KubeObject } from '../kube/object.ts';
import { builtinResources } from '../kube/resource.ts';
import { sleep } from './backoff.ts';
import type { Clock } from './clock.ts';
import { formatMicroTime, systemClock } from './clock.ts';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaderElectionTiming {
  /** How long a standby waits after the last observed change before taking over. */
  leaseDurationMs: number;
  /** How long the leader keeps trying to renew before it steps down. */
  renewDeadlineMs: number;
  /** Interval between attempts to acquire or renew. */
  retryPeriodMs: number;
}

export const defaultLeaderElectionTiming: LeaderElectionTiming = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

export interface LeaderElectorOptions extends LeaderElectionTiming {
  client: KubeClient;
  namespace: string;
  /** The Lease name (kubebuilder's leader election id). */
  name: string;
  identity?: string;
  clock?: Clock;
  log: Logger;
  onLeaderChange?(isLeader: boolean): void;
}

export interface LeadershipCallbacks {
  onStartedLeading(): void;
  /** Leadership was lost (not released): the process must stop reconciling at once. */
  onStoppedLeading(): void;
}

type Attempt = 'acquired' | 'held' | 'conflict' | 'failed';

// client-go's JitterFactor: retries are spread over retryPeriod .. 1.2 x retryPeriod.
const jitterFactor = 0.2;

export function validateLeaderElectionTiming(timing: LeaderElectionTiming): string | undefined {
  if (timing.leaseDurationMs <= timing.renewDeadlineMs)
    return 'lease duration must be greater than renew deadline';
  if (timing.renewDeadlineMs <= (1 + jitterFactor) * timing.retryPeriodMs) {
    return 'renew deadline must be greater than 1.2 x retry period';
  }
  if (timing.retryPeriodMs < 1) return 'retry period must be positive';
  return undefined;
}

/** What the elector does with its Lease: read it, create it the first time, then replace it to renew or release. */
export const leaseAccess: ApiAccess = {
  resource: builtinResources.leases,
  verbs: ['get', 'create', 'update'],
};

export class LeaderElector {
  readonly identity: string;
  readonly #options: LeaderElectorOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  #observed: { resourceVersion: string; spec: LeaseSpec; at: number } | undefined;
  #leader = false;
  #running: Promise<void> | undefined;

  constructor(options: LeaderElectorOptions) {
    const invalid = validateLeaderElectionTiming(options);
    if (invalid) throw new Error(`invalid leader election timing: ${invalid}`);
    this.#options = options;
    this.identity = options.identity ?? `${hostname()}_${randomUUID()}`;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log.child({ lease: `${options.namespace}/${options.name}`, identity: this.identity });
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  /** Campaigns in the background until stopped; calls back when leadership starts and if it is lost. */
  run(callbacks: LeadershipCallbacks): void {
    this.#running ??= this.#campaign(callbacks);
  }

  /** Stops campaigning; a leader releases the lease so that a standby can take over at once. */
  async release(): Promise<void> {
    this.#stop.abort();
    await this.#running;
    if (!this.#leader) return;
    this.#setLeader(false);
    const observed = this.#observed;
    if (!observed) return;
    const now = formatMicroTime(this.#clock.now());
    try {
      await this.#writeLease(
        observed.resourceVersion,
        {
          holderIdentity: '',
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: observed.spec.leaseTransitions ?? 0,
        },
        AbortSignal.timeout(this.#options.renewDeadlineMs),
      );
      this.#log.info('released the lease');
    } catch (err) {
      this.#log.warn('could not release the lease; it will expire', { err });
    }
  }

  /**
   * Stops campaigning and renewing without writing the lease, which expires leaseDuration after the last
   * renewal: for a process that may still write (a reconcile outlived the shutdown timeout) and is about to exit.
   */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
    this.#setLeader(false);
  }

  async #campaign(callbacks: LeadershipCallbacks): Promise<void> {
    const signal = this.#stop.signal;
    // A function, not the property: TypeScript would keep `signal.aborted` narrowed across awaits.
    const stopped = (): boolean => signal.aborted;
    const { retryPeriodMs, renewDeadlineMs } = this.#options;
    this.#log.info('waiting to acquire the lease');
    let renewedAt: number; // when the last successful attempt began
    for (;;) {
      renewedAt = performance.now();
      const attempt = await this.#tryAcquireOrRenew(
        AbortSignal.any([signal, AbortSignal.timeout(renewDeadlineMs)]),
      );
      if (stopped()) return;
      if (attempt === 'acquired') break;
      await sleep(retryPeriodMs * (1 + jitterFactor * Math.random()), signal);
    }
    this.#setLeader(true);
    this.#log.info('acquired the lease; leading');
    callbacks.onStartedLeading();

    for (;;) {
      await sleep(retryPeriodMs, signal);
      if (stopped()) return;
      const deadline = AbortSignal.timeout(
        Math.max(0, Math.floor(renewedAt + renewDeadlineMs - performance.now())),
      );
      const renewal = AbortSignal.any([signal, deadline]);
      let attempt: Attempt;
      for (;;) {
        const startedAt = performance.now();
        attempt = await this.#tryAcquireOrRenew(renewal);
        if (attempt === 'acquired') renewedAt = startedAt;
        if (attempt !== 'failed' || renewal.aborted) break;
        await sleep(retryPeriodMs, renewal);
      }
      if (stopped()) return;
      if (attempt === 'acquired') continue;
      this.#setLeader(false);
      this.#log.error('lost the lease; stopping', {
        reason: attempt === 'failed' ? 'renew deadline passed' : attempt,
      });
      callbacks.onStoppedLeading();
      return;
    }
  }

  /** One read and, unless another holder's lease is valid, one write; `signal` bounds both. */
  async #tryAcquireOrRenew(signal: AbortSignal): Promise<Attempt> {
    const { leaseDurationMs } = this.#options;
    const now = formatMicroTime(this.#clock.now());
    const leaseDurationSeconds = Math.ceil(leaseDurationMs / 1000);
    try {
      let lease: Lease;
      try {
        lease = await this.#readLease(signal);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        const created = await this.#options.client.create<Lease>(
          builtinResources.leases,
          {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.#options.name, namespace: this.#options.namespace },
            spec: {
              holderIdentity: this.identity,
              leaseDurationSeconds,
              acquireTime: now,
              renewTime: now,
              leaseTransitions: 0,
            },
          },
          { signal },
        );
        this.#observe(created);
        return 'acquired';
      }
      const spec = this.#observe(lease);
      const holder = spec.holderIdentity ?? '';
      const heldUntil = (this.#observed?.at ?? 0) + (spec.leaseDurationSeconds ?? 0) * 1000;
      if (holder !== '' && holder !== this.identity && heldUntil > performance.now()) return 'held';

      const renewing = holder === this.identity;
      const written = await this.#writeLease(
        lease.metadata.resourceVersion ?? '',
        {
          holderIdentity: this.identity,
          leaseDurationSeconds,
          acquireTime: renewing ? (spec.acquireTime ?? now) : now,
          renewTime: now,
          leaseTransitions: renewing ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
        },
        signal,
      );
      this.#observe(written);
      return 'acquired';
    } catch (err) {
      if (isConflict(err) || isAlreadyExists(err)) return 'conflict';
      this.#log.warn('lease request failed', { err });
      return 'failed';
    }
  }

  async #readLease(signal: AbortSignal): Promise<Lease> {
    return this.#options.client.get<Lease>(
      builtinResources.leases,
      this.#options.name,
      this.#options.namespace,
      {
        signal,
      },
    );
  }

  async #writeLease(resourceVersion: string, spec: LeaseSpec, signal: AbortSignal): Promise<Lease> {
    return this.#options.client.replace<Lease>(
      builtinResources.leases,
      {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.#options.name, namespace: this.#options.namespace, resourceVersion },
        spec,
      },
      { signal },
    );
  }

  /** Records the lease as seen now (locally) if its record changed since we last looked. */
  #observe(lease: Lease): LeaseSpec {
    const spec = lease.spec ?? {};
    const resourceVersion = lease.metadata.resourceVersion ?? '';
    if (this.#observed?.resourceVersion !== resourceVersion) {
      this.#observed = { resourceVersion, spec, at: performance.now() };
    }
    return spec;
  }

  #setLeader(leader: boolean): void {
    if (this.#leader === leader) return;
    this.#leader = leader;
    this.#options.onLeaderChange?.(leader);
  }
}
