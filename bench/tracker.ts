// Follows the benchmark's ManagedKeys through one list and a watch (not by listing N objects over and over, which
// would load the API server as much as the operator does), and resolves when a condition holds for all of them.

import type { KubeClient } from '../src/kube/client.ts';
import type { ManagedKeyObject } from '../src/api/v1alpha1/index.ts';
import { managedKeyType } from '../src/controllers/managedkey/controller.ts';

export interface KeyState {
  readonly ready: boolean;
  readonly currentVersion: number;
  readonly lastRotationTrigger: string | undefined;
}

function stateOf(key: ManagedKeyObject): KeyState {
  return {
    ready: key.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    currentVersion: key.status?.currentVersion ?? 0,
    lastRotationTrigger: key.status?.lastRotationTrigger,
  };
}

export class KeyTracker {
  readonly #states = new Map<string, KeyState>();
  readonly #waiters = new Set<() => void>();
  readonly #abort = new AbortController();

  start(client: KubeClient, namespace: string): void {
    void this.#follow(client, namespace);
  }

  /** Lists and watches again after any failure (a new CRD's watch cache answers 429 while it initializes). */
  async #follow(client: KubeClient, namespace: string): Promise<void> {
    while (!this.#abort.signal.aborted) {
      try {
        await this.#listAndWatch(client, namespace);
      } catch (error) {
        if (error instanceof Error && error.name === 'AbortError') return;
        process.stderr.write(`[bench] watching ManagedKeys failed, again in 1 s: ${String(error)}\n`);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  async #listAndWatch(client: KubeClient, namespace: string): Promise<void> {
    const listed = await client.listAll<ManagedKeyObject>(managedKeyType, { namespace });
    this.#states.clear();
    for (const key of listed.items) this.#states.set(key.metadata.name ?? '', stateOf(key));
    for (const waiter of this.#waiters) waiter();
    let { resourceVersion } = listed;
    while (!this.#abort.signal.aborted) {
      for await (const event of client.watch<ManagedKeyObject>(
        managedKeyType,
        { namespace, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 300 },
        this.#abort.signal,
      )) {
        if (event.type === 'ERROR') throw new Error(`watch: ${JSON.stringify(event.object)}`);
        const key = event.object as ManagedKeyObject;
        resourceVersion = key.metadata.resourceVersion ?? resourceVersion;
        if (event.type === 'BOOKMARK') continue;
        const name = key.metadata.name ?? '';
        if (event.type === 'DELETED') this.#states.delete(name);
        else this.#states.set(name, stateOf(key));
        for (const waiter of this.#waiters) waiter();
      }
    }
  }

  count(predicate: (state: KeyState) => boolean): number {
    let n = 0;
    for (const state of this.#states.values()) if (predicate(state)) n++;
    return n;
  }

  /** Resolves once `n` keys satisfy the predicate; rejects after timeoutMs with how far it got. */
  until(what: string, n: number, predicate: (state: KeyState) => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.count(predicate) < n) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`${what}: ${this.count(predicate)} of ${n} after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  stop(): void {
    this.#abort.abort();
  }
}
