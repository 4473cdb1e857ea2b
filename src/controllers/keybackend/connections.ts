// The open connections to backends, one per KeyBackend, shared by the KeyBackend controller (which opens, checks
// and closes them) and the controllers that use keys (which only read them).
import type { BackendCapabilities, KeyBackend } from '../../backends/backend.ts';

/** Why a backend cannot be used right now, in the words a condition uses. */
export interface Unavailable {
  reason: string;
  message: string;
  /** Whether to try again soon, backing off (true), or only at the next health check (false: no such token). */
  transient: boolean;
}

export type ConnectionState =
  { ready: true; backend: KeyBackend; capabilities: BackendCapabilities } | ({ ready: false } & Unavailable);

interface Entry {
  /** What the connection was made from (generation and Secret version); a change means reconnect. */
  source: string;
  state: ConnectionState;
  failures: number;
}

export class BackendConnections {
  readonly #entries = new Map<string, Entry>();
  readonly #onChange: (name: string) => void;

  /** `onChange` hears of every connection that became usable or stopped being usable. */
  constructor(onChange: (name: string) => void = () => undefined) {
    this.#onChange = onChange;
  }

  /** The state of the named KeyBackend's connection; undefined before its first reconcile. */
  get(name: string): ConnectionState | undefined {
    return this.#entries.get(name)?.state;
  }

  /** The entry if it was made from `source`, i.e. the KeyBackend and its Secret have not changed since. */
  current(name: string, source: string): { state: ConnectionState; failures: number } | undefined {
    const entry = this.#entries.get(name);
    return entry?.source === source ? entry : undefined;
  }

  /** Records a new state, closing the backend it replaces. */
  async set(name: string, source: string, state: ConnectionState): Promise<void> {
    const previous = this.#entries.get(name);
    const failures = state.ready ? 0 : previous?.source === source ? previous.failures + 1 : 1;
    this.#entries.set(name, { source, state, failures });
    const old = previous?.state.ready ? previous.state.backend : undefined;
    const replaced = old !== undefined && (!state.ready || state.backend !== old);
    if (replaced) await old.close();
    if (replaced || (state.ready && !previous?.state.ready)) this.#onChange(name);
  }

  async close(name: string): Promise<void> {
    const entry = this.#entries.get(name);
    this.#entries.delete(name);
    if (entry?.state.ready) {
      await entry.state.backend.close();
      this.#onChange(name);
    }
  }
}
