// One chaos trial: its seed and PRNG, its namespace, the operators it runs (children of this process, killed with
// SIGKILL), the keys and ceremonies it made, a watch on the backend that records when objects disappear, and the
// snapshot the invariants are checked on.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KeyCeremonyObject } from '../../src/api/v1alpha1/keyceremony.ts';
import type { ManagedKeyObject } from '../../src/api/v1alpha1/managedkey.ts';
import { parseTranscript } from '../../src/ceremony/transcript.ts';
import { keyCeremonyType } from '../../src/controllers/keyceremony/context.ts';
import { managedKeyType } from '../../src/controllers/managedkey/names.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { isNotFound } from '../../src/kube/errors.ts';
import type { KubeObject } from '../../src/kube/object.ts';
import { builtinResources } from '../../src/kube/resource.ts';
import { parseDuration } from '../../src/runtime/duration.ts';
import { baseArgs, startOperator } from '../fixtures/operator-process.ts';
import type { OperatorProcess } from '../fixtures/operator-process.ts';
import { eventually } from '../support/eventually.ts';
import { converged } from './invariants.ts';
import type {
  BackendObjects,
  Disappearance,
  KeySnapshot,
  TranscriptSnapshot,
  WorldSnapshot,
} from './invariants.ts';
import { Prng } from './prng.ts';

const operatorScript = join(import.meta.dirname, 'operator.ts');

/** Reads the objects a backend holds for the keys of a trial. */
export type Inventory = () => Promise<BackendObjects[]>;

interface TrackedKey {
  readonly name: string;
  readonly uid: string;
  readonly offline?: boolean;
  deletionRequestedAt?: number;
  last?: ManagedKeyObject;
}

export interface OperatorOptions {
  failpoints?: readonly string[];
  leaderElect?: boolean;
}

export class Trial {
  readonly seed: number;
  readonly prng: Prng;
  readonly client: KubeClient;
  readonly kubeconfig: string;
  readonly namespace: string;
  /** What happened, in order: printed with a failure. */
  readonly story: string[] = [];
  /** How far ahead of the system clock the operators (and so the trial) run: moved by a destroy window. */
  clockOffsetMs = 0;
  readonly #operators: OperatorProcess[] = [];
  readonly #keys = new Map<string, TrackedKey>();
  readonly #ceremonies: string[] = [];
  readonly #disappearances: Disappearance[] = [];
  readonly #cleanups: (() => Promise<void> | void)[] = [];
  #inventory: Inventory = () => Promise.resolve([]);
  #watching: Promise<void> | undefined;
  #stopWatching = false;
  #paused = false;
  #pauseEpoch = 0;

  constructor(seed: number, client: KubeClient, kubeconfig: string) {
    this.seed = seed;
    this.prng = new Prng(seed);
    this.client = client;
    this.kubeconfig = kubeconfig;
    this.namespace = `chaos-${String(seed)}-${Date.now().toString(36)}`;
  }

  /** Trial time: the operators' clock. */
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  note(line: string): void {
    this.story.push(`${((performance.now() - this.#startedAt) / 1000).toFixed(1)}s ${line}`);
    if (process.env.KEYWARD_CHAOS_VERBOSE === '1') process.stderr.write(`  ${this.story.at(-1) ?? ''}\n`);
  }

  readonly #startedAt = performance.now();

  onCleanup(cleanup: () => Promise<void> | void): void {
    this.#cleanups.push(cleanup);
  }

  /** Starts the operator (test/chaos/operator.ts: src/main.ts with the trial's clock) in the trial's namespace. */
  operator(name: string, options: OperatorOptions = {}): OperatorProcess {
    const args = [...baseArgs(this.kubeconfig, this.namespace)];
    if (options.leaderElect !== true) args.push('--leader-elect=false');
    const started = startOperator(name, args, {
      script: operatorScript,
      env: {
        ...process.env,
        KEYWARD_FAILPOINTS: (options.failpoints ?? []).join(','),
        KEYWARD_CHAOS_CLOCK_OFFSET_MS: String(this.clockOffsetMs),
      },
    });
    this.#operators.push(started);
    this.note(
      `started operator ${name}${options.failpoints?.length ? ` armed at ${options.failpoints.join(',')}` : ''}`,
    );
    return started;
  }

  /**
   * The fault moment: with a failpoint armed, waits for the operator to die there (SIGKILL anyway after
   * `timeoutMs` if it never got there); otherwise kills it `delayMs` from now.
   */
  async killAt(
    operator: OperatorProcess,
    moment: { failpoint?: string; delayMs: number },
    timeoutMs = 60_000,
  ): Promise<void> {
    // A delay counts from when the operator is up (about 2 s of loading and cache sync on a busy machine).
    if (moment.failpoint === undefined)
      await operator
        .waitForLog('operator started', (l) => l.msg === 'operator started', timeoutMs)
        .catch(() => undefined);
    const wait = moment.failpoint === undefined ? moment.delayMs : timeoutMs;
    const exit = await Promise.race([operator.exited, sleep(wait).then(() => undefined)]);
    if (exit === undefined) {
      operator.child.kill('SIGKILL');
      await operator.exited;
      this.note(
        moment.failpoint === undefined
          ? `SIGKILL ${operator.name} after ${moment.delayMs} ms`
          : `${operator.name} never reached ${moment.failpoint}; SIGKILL after ${timeoutMs} ms`,
      );
    } else {
      this.note(
        `${operator.name} exited (${exit.signal ?? `code ${String(exit.code)}`})${moment.failpoint ? ` at ${moment.failpoint}` : ''}`,
      );
    }
  }

  /** A kill moment chosen by the PRNG: one of `failpoints` (half the time, when there are any) or a delay. */
  moment(failpoints: readonly string[], maxDelayMs: number): { failpoint?: string; delayMs: number } {
    const delayMs = this.prng.int(0, maxDelayMs);
    if (failpoints.length > 0 && this.prng.chance(0.5))
      return { failpoint: this.prng.pick(failpoints), delayMs };
    return { delayMs };
  }

  /** The last warnings and errors each operator logged (what a failed trial prints). */
  operatorWarnings(perOperator = 8): string[] {
    return this.#operators.flatMap((operator) =>
      operator.logs
        .filter((line) => line.level === 'warn' || line.level === 'error' || 'text' in line)
        .slice(-perOperator)
        .map((line) => `[${operator.name}] ${JSON.stringify(line)}`),
    );
  }

  async stopOperators(): Promise<void> {
    for (const operator of this.#operators)
      if (operator.child.exitCode === null) operator.child.kill('SIGTERM');
    await Promise.all(this.#operators.map((operator) => operator.exited));
  }

  async createKey(manifest: KubeObject): Promise<void> {
    const name = manifest.metadata.name ?? '';
    const created = await this.client.create(managedKeyType, manifest);
    this.#keys.set(name, { name, uid: created.metadata.uid ?? '' });
    this.note(`created ManagedKey ${name}`);
  }

  async patchKey(name: string, patch: object): Promise<void> {
    await this.client.patch(managedKeyType, name, this.namespace, 'merge', patch);
    this.note(`patched ManagedKey ${name}: ${JSON.stringify(patch)}`);
  }

  async deleteKey(name: string): Promise<void> {
    const key = this.#keys.get(name);
    if (!key) throw new Error(`the trial did not make ManagedKey ${name}`);
    key.last = await this.client.get<ManagedKeyObject>(managedKeyType, name, this.namespace);
    key.deletionRequestedAt = this.now();
    await this.client.delete(managedKeyType, name, this.namespace);
    this.note(`deleted ManagedKey ${name}`);
  }

  /** The trial's ManagedKeys by name, with their uids (what the inventories count objects by). */
  uids(): ReadonlyMap<string, string> {
    return new Map([...this.#keys.values()].map((k) => [k.name, k.uid]));
  }

  /**
   * A key the operator made itself (a ceremony's root key), tracked like the trial's own; an offline one (its PIN
   * held only by the custodians) is never Ready, so only its objects are checked, not its readiness.
   */
  async trackKey(name: string, options: { offline?: boolean } = {}): Promise<void> {
    const key = await this.client.get<ManagedKeyObject>(managedKeyType, name, this.namespace);
    this.#keys.set(name, { name, uid: key.metadata.uid ?? '', last: key, offline: options.offline === true });
  }

  trackCeremony(name: string): void {
    this.#ceremonies.push(name);
  }

  /** Waits until `probe` holds, within a generous deadline (2 shared cores). */
  waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
    return eventually(what, probe, timeoutMs);
  }

  async key(name: string): Promise<ManagedKeyObject | undefined> {
    try {
      return await this.client.get<ManagedKeyObject>(managedKeyType, name, this.namespace);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Waits until the key is Ready at `version` (any version when absent). */
  async keyReady(name: string, version?: number, timeoutMs?: number): Promise<ManagedKeyObject> {
    return this.waitFor(
      `${name} Ready${version === undefined ? '' : ` at version ${version}`}`,
      async () => {
        const key = await this.key(name);
        const ready = key?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        return ready && (version === undefined || key?.status?.currentVersion === version) ? key : undefined;
      },
      timeoutMs,
    );
  }

  /**
   * Watches the backend from now on: every poll reads the inventory, and a version whose objects were there and are
   * missing from two polls in a row is recorded as a disappearance at the trial's time of the first. (One poll is
   * not enough: pkcs11-tool reading SoftHSM2's files while the operator rewrites an object can miss it.)
   */
  watchBackend(inventory: Inventory): void {
    this.#inventory = inventory;
    const seen = new Map<string, number>();
    const missing = new Map<string, { at: number; polls: number }>();
    const versions = new Map<string, { uid: string; version: number }>();
    const versionId = (o: { uid: string; version: number }): string => `${o.uid} v${String(o.version)}`;
    const poll = async (): Promise<void> => {
      while (!this.#stopWatching) {
        const epoch = this.#pauseEpoch;
        const read = this.#paused ? undefined : await inventory().catch(() => undefined);
        // A read that overlapped a pause saw the backend taken away: it does not count.
        const objects = epoch === this.#pauseEpoch ? read : undefined;
        if (objects) {
          const now = new Map(objects.map((o) => [versionId(o), o.count]));
          for (const o of objects) versions.set(versionId(o), o);
          for (const [id, count] of seen) {
            if ((now.get(id) ?? 0) >= count) {
              missing.delete(id);
              continue;
            }
            const gone = missing.get(id) ?? { at: this.now(), polls: 0 };
            gone.polls += 1;
            missing.set(id, gone);
            if (gone.polls < 2) continue;
            const { uid = '', version = 0 } = versions.get(id) ?? {};
            this.#disappearances.push({ uid, version, at: gone.at });
            missing.delete(id);
            seen.delete(id);
          }
          for (const [id, count] of now) if (count > 0 && !missing.has(id)) seen.set(id, count);
        }
        await sleep(250);
      }
    };
    this.#watching = poll();
  }

  /** Runs `outage` with the backend watch paused (a backend taken away on purpose would read as destroyed). */
  async pauseWatch(outage: () => Promise<void>): Promise<void> {
    this.#paused = true;
    this.#pauseEpoch += 1;
    try {
      await outage();
    } finally {
      this.#paused = false;
      this.#pauseEpoch += 1;
    }
  }

  /** The world as it is: keys, backend objects, disappearances, transcripts. */
  async snapshot(): Promise<WorldSnapshot> {
    const keys: KeySnapshot[] = [];
    for (const tracked of this.#keys.values()) {
      const current = await this.key(tracked.name);
      if (current) tracked.last = current;
      const object = tracked.last;
      if (!object) continue;
      keys.push({
        name: tracked.name,
        uid: object.metadata.uid ?? '',
        ...(tracked.offline ? { offline: true } : {}),
        gone: current === undefined,
        deletionPolicy: object.spec.deletionPolicy,
        destroyAfterMs: parseDuration(object.spec.destroyAfter),
        ...(tracked.deletionRequestedAt === undefined
          ? {}
          : { deletionRequestedAt: tracked.deletionRequestedAt }),
        ...(object.status?.destroyTime ? { destroyTime: Date.parse(object.status.destroyTime) } : {}),
        generation: object.metadata.generation,
        observedGeneration: object.status?.observedGeneration,
        ready: object.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        phase: object.status?.phase,
        ...((object.status?.failedRotationAttempts ?? 0) > 0 && object.status?.nextRotationTime
          ? { rotationRetryAt: Date.parse(object.status.nextRotationTime) }
          : {}),
        versions: (object.status?.versions ?? []).map((v) => ({ version: v.version, state: v.state })),
      });
    }
    const transcripts: TranscriptSnapshot[] = [];
    for (const name of this.#ceremonies) {
      const ceremony = await this.client.get<KeyCeremonyObject>(keyCeremonyType, name, this.namespace);
      const mapName = ceremony.status?.transcript?.configMapName ?? `${name}-transcript`;
      const map = await this.client
        .get<KubeObject & { data?: Record<string, string> }>(
          builtinResources.configMaps,
          mapName,
          this.namespace,
        )
        .catch((error: unknown) => {
          if (isNotFound(error)) return undefined;
          throw error;
        });
      transcripts.push({
        ceremony: name,
        genesis: ceremony.status?.challenge ?? '',
        ...(ceremony.status?.transcript?.headHash ? { headHash: ceremony.status.transcript.headHash } : {}),
        entries: parseTranscript(map?.data?.['transcript.jsonl'] ?? ''),
      });
    }
    return {
      now: this.now(),
      keys,
      objects: await this.#inventory(),
      disappearances: [...this.#disappearances],
      transcripts,
    };
  }

  /** Waits for every key to converge (see converged()), then returns the snapshot; the last one if it never does. */
  async settle(timeoutMs = 180_000): Promise<WorldSnapshot> {
    let last: WorldSnapshot | undefined;
    try {
      await this.waitFor(
        'status to converge',
        async () => {
          last = await this.snapshot();
          const { now } = last;
          return last.keys.every((k) => converged(k, now) === undefined);
        },
        timeoutMs,
      );
    } catch (error) {
      this.note(error instanceof Error ? error.message : String(error));
    }
    return last ?? (await this.snapshot());
  }

  async close(): Promise<void> {
    await this.stopOperators();
    this.#stopWatching = true;
    await this.#watching;
    for (const cleanup of this.#cleanups.reverse()) await cleanup();
  }
}
