// The ceremony transcript: a hash chain. Each entry's hash is SHA-256 over the canonical JSON of its other fields,
// prevHash included, so that changing, removing or reordering any entry changes every hash after it. The first
// entry's prevHash is the ceremony's challenge, which binds the chain to the ceremony (its uid and spec). Witnesses
// sign the hash of the last entry (the head).
import { createHash } from 'node:crypto';
import { canonicalJson } from './challenge.ts';

export type Detail = Readonly<Record<string, string | number | boolean | readonly string[]>>;

export interface TranscriptEntry {
  readonly seq: number;
  /** RFC 3339, UTC. */
  readonly time: string;
  /** The ceremony step (one of CEREMONY_STEPS), or "Dual Control" for approvals. */
  readonly step: string;
  /** Who acted: a custodian or witness name, or "operator". */
  readonly actor: string;
  readonly detail: Detail;
  readonly prevHash: string;
  readonly hash: string;
}

export function entryHash(entry: Omit<TranscriptEntry, 'hash'>): string {
  const { seq, time, step, actor, detail, prevHash } = entry;
  const text = canonicalJson({ seq, time, step, actor, detail, prevHash });
  return `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`;
}

export function appendEntry(
  entries: readonly TranscriptEntry[],
  genesis: string,
  next: { time: string; step: string; actor: string; detail: Detail },
): TranscriptEntry[] {
  const last = entries.at(-1);
  const unhashed = { seq: (last?.seq ?? 0) + 1, prevHash: last?.hash ?? genesis, ...next };
  return [...entries, { ...unhashed, hash: entryHash(unhashed) }];
}

export function headOf(entries: readonly TranscriptEntry[], genesis: string): string {
  return entries.at(-1)?.hash ?? genesis;
}

/** Where a chain first goes wrong, or undefined when every link holds. */
export function verifyChain(entries: readonly TranscriptEntry[], genesis: string): string | undefined {
  let prev = genesis;
  for (const [index, entry] of entries.entries()) {
    if (entry.seq !== index + 1) return `entry ${index + 1} has seq ${entry.seq}`;
    if (entry.prevHash !== prev)
      return `entry ${entry.seq} does not follow the entry before it (prevHash differs)`;
    if (entryHash(entry) !== entry.hash)
      return `entry ${entry.seq} was changed after it was written (hash differs)`;
    prev = entry.hash;
  }
  return undefined;
}

/** One JSON object per line: the ConfigMap's `transcript.jsonl`. */
export function serializeTranscript(entries: readonly TranscriptEntry[]): string {
  return entries.map((e) => `${JSON.stringify(e)}\n`).join('');
}

export function parseTranscript(text: string): TranscriptEntry[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as TranscriptEntry);
}
