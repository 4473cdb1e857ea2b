// The transcript of a ceremony in a ConfigMap of its own: appended while the ceremony runs (every append is a
// replace guarded by resourceVersion, so a stale writer fails instead of losing an entry), and made immutable when
// sealed. The hash chain, not the ConfigMap, is what proves it: `kubectl keyward transcript verify` recomputes it.
import type { KeyCeremonyObject } from '../../api/v1alpha1/keyceremony.ts';
import { appendEntry, headOf, parseTranscript, serializeTranscript } from '../../ceremony/transcript.ts';
import type { Detail, TranscriptEntry } from '../../ceremony/transcript.ts';
import type { ApiAccess } from '../../kube/access.ts';
import type { KubeClient } from '../../kube/client.ts';
import { isAlreadyExists } from '../../kube/errors.ts';
import { builtinResources } from '../../kube/resource.ts';
import { formatTime } from '../../runtime/clock.ts';
import type { ConfigMap } from '../managedkey/distribution.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../managedkey/distribution.ts';

export const CEREMONY_LABEL = 'keyward.io/ceremony';
export const TRANSCRIPT_KEY = 'transcript.jsonl';

/** The transcript ConfigMap: created, read by name, replaced as entries are appended. */
export const transcriptAccess: ApiAccess = {
  resource: builtinResources.configMaps,
  verbs: ['get', 'create', 'update'],
};

export function transcriptName(ceremony: KeyCeremonyObject): string {
  return `${ceremony.metadata.name ?? ''}-transcript`;
}

interface TranscriptMap extends ConfigMap {
  immutable?: boolean;
}

export class TranscriptConflictError extends Error {
  override name = 'TranscriptConflictError';
}

export class Transcript {
  readonly #client: KubeClient;
  #map: TranscriptMap;
  #entries: TranscriptEntry[];
  readonly genesis: string;

  private constructor(client: KubeClient, map: TranscriptMap, genesis: string) {
    this.#client = client;
    this.#map = map;
    this.genesis = genesis;
    this.#entries = parseTranscript(map.data?.[TRANSCRIPT_KEY] ?? '');
  }

  /** The ceremony's transcript, created empty if missing. Refuses a ConfigMap of that name that is not its own. */
  static async open(client: KubeClient, ceremony: KeyCeremonyObject, genesis: string): Promise<Transcript> {
    const name = transcriptName(ceremony);
    const namespace = ceremony.metadata.namespace ?? '';
    let map: TranscriptMap;
    try {
      map = await client.create<TranscriptMap>(builtinResources.configMaps, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name,
          namespace,
          labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [CEREMONY_LABEL]: ceremony.metadata.name ?? '' },
          annotations: { 'keyward.io/ceremony-uid': ceremony.metadata.uid ?? '' },
        },
        data: { genesis, [TRANSCRIPT_KEY]: '' },
      });
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
      map = await client.get<TranscriptMap>(builtinResources.configMaps, name, namespace);
    }
    if (
      map.metadata.annotations?.['keyward.io/ceremony-uid'] !== ceremony.metadata.uid ||
      map.data?.genesis !== genesis
    ) {
      throw new TranscriptConflictError(
        `ConfigMap ${namespace}/${name} exists and is not the transcript of this ceremony; a transcript is never overwritten`,
      );
    }
    return new Transcript(client, map, genesis);
  }

  get entries(): readonly TranscriptEntry[] {
    return this.#entries;
  }

  get head(): string {
    return headOf(this.#entries, this.genesis);
  }

  get sealed(): boolean {
    return this.#map.immutable === true;
  }

  get name(): string {
    return this.#map.metadata.name ?? '';
  }

  /** Whether an entry already records this (an approval, a step), so a retried reconcile does not repeat it. */
  has(predicate: (entry: TranscriptEntry) => boolean): boolean {
    return this.#entries.some(predicate);
  }

  async append(nowMs: number, step: string, actor: string, detail: Detail): Promise<TranscriptEntry> {
    const entries = appendEntry(this.#entries, this.genesis, {
      time: formatTime(nowMs),
      step,
      actor,
      detail,
    });
    await this.#write(entries, false);
    const last = entries.at(-1);
    if (!last) throw new Error('append produced no entry');
    return last;
  }

  /** Makes the ConfigMap immutable: from here on the head is final and witnesses sign it. */
  async seal(): Promise<void> {
    if (!this.sealed) await this.#write(this.#entries, true);
  }

  async #write(entries: TranscriptEntry[], seal: boolean): Promise<void> {
    const data = {
      ...this.#map.data,
      [TRANSCRIPT_KEY]: serializeTranscript(entries),
      head: headOf(entries, this.genesis),
    };
    this.#map = await this.#client.replace<TranscriptMap>(builtinResources.configMaps, {
      ...this.#map,
      data,
      ...(seal ? { immutable: true } : {}),
    });
    this.#entries = entries;
  }
}
