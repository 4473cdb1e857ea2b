// The token's key objects by CKA_ID, built from one enumeration at connect and kept by the backend's own writes.
// A C_FindObjects by CKA_ID is a linear scan in SoftHSM (about 68 ms per lookup with 2,000 keys) while enumerating
// all keys once takes about 180 ms, so lookups and the duplicate check before generating are answered from this
// map. That is sound because Keyward has one writer per token: the elected leader, whose backends on a token share
// one index and one set of locks (shareTokenState), and which marks every version in status before creating it (a
// crashed create is found by the next process's enumeration). Objects another process makes after the enumeration
// are seen after the next refresh(); see docs/backends.md, PKCS#11. The enumeration also keeps what it read of each
// object for the first verification of each version (enumeration-snapshot.ts).

import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import pkcs11js from 'pkcs11js';
import {
  CKO_BY_CLASS,
  OBJECT_CLASSES,
  type ObjectClass,
  bufferAttribute,
  objectClassOf,
  readAttributes,
  ulongAttribute,
} from './attributes.ts';
import { KeyedLock } from '../keyed-lock.ts';
import { EnumerationSnapshot, type SnapshotUse } from './enumeration-snapshot.ts';
import type { KeyFacts, KeyObjects } from './key-objects.ts';
import { readEnumerated } from './object-facts.ts';

export interface IndexedObject {
  readonly cls: ObjectClass;
  readonly handle: pkcs11js.Handle;
  /** CKA_LABEL as read when the object was found. */
  readonly label: string;
}

const FIND_BATCH = 256;
/** Objects read (two attribute reads each) between two yields to the event loop (pkcs11js calls are synchronous). */
const OBJECTS_PER_TURN = 128;
/** How long an enumeration's snapshot is kept for first verifications; after that it would only hold memory. */
const SNAPSHOT_LIFETIME_MS = 10 * 60_000;

function findAll(
  pkcs11: pkcs11js.PKCS11,
  session: pkcs11js.Handle,
  template: pkcs11js.Template,
): pkcs11js.Handle[] {
  pkcs11.C_FindObjectsInit(session, template);
  try {
    const handles: pkcs11js.Handle[] = [];
    for (;;) {
      const batch = pkcs11.C_FindObjects(session, FIND_BATCH);
      if (batch.length === 0) return handles;
      handles.push(...batch);
    }
  } finally {
    pkcs11.C_FindObjectsFinal(session);
  }
}

/** The token's key objects with this CKA_ID, searched on the token itself. */
export function findObjectsById(
  pkcs11: pkcs11js.PKCS11,
  session: pkcs11js.Handle,
  id: Buffer,
): IndexedObject[] {
  const handles = findAll(pkcs11, session, [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_ID, value: id },
  ]);
  return handles.flatMap((handle) => {
    const attributes = readAttributes(pkcs11, session, handle, [pkcs11js.CKA_CLASS, pkcs11js.CKA_LABEL]);
    const cls = objectClassOf(ulongAttribute(attributes, pkcs11js.CKA_CLASS) ?? -1);
    const label = bufferAttribute(attributes, pkcs11js.CKA_LABEL).toString('utf8');
    return cls === undefined ? [] : [{ cls, handle, label }];
  });
}

/** A Keyward label without its `/v<N>` tail: what every version of one key shares (unless the label was cut). */
export function ownerOfLabel(label: string): string {
  return label.replace(/\/v[1-9][0-9]{0,14}$/, '');
}

export class KeyIndex {
  #objects = new Map<string, IndexedObject[]>();
  /** CKA_IDs (hex) by the owner part of their objects' labels, so a key's versions are found without a scan. */
  #byOwner = new Map<string, Set<string>>();
  #builtAt = Number.NEGATIVE_INFINITY;
  /** Entries written while a rebuild runs; they are newer than what the rebuild saw. */
  #writtenDuringRebuild: Map<string, IndexedObject[]> | undefined;
  #snapshot = new EnumerationSnapshot();
  #snapshotExpiry: NodeJS.Timeout | undefined;
  /** CKA_IDs (hex) whose snapshot was dropped while a rebuild runs: what it read of them may be older. */
  #forgottenDuringRebuild: Set<string> | undefined;

  /** The indexed objects with this CKA_ID (empty when none). */
  lookup(id: Buffer): readonly IndexedObject[] {
    return this.#objects.get(id.toString('hex')) ?? [];
  }

  /** Records what the token holds for this CKA_ID after we searched, generated or destroyed. */
  put(id: Buffer, objects: readonly IndexedObject[]): void {
    const key = id.toString('hex');
    this.#writtenDuringRebuild?.set(key, [...objects]);
    this.#set(this.#objects, this.#byOwner, key, objects);
    this.forgetSnapshot(id);
  }

  /**
   * What the last enumeration read of a version's objects, the first time `use` asks for it (enumeration-snapshot.ts);
   * undefined once used, after a write to the version, and when the snapshot has expired.
   */
  takeSnapshot(id: Buffer, key: KeyObjects, use: SnapshotUse): KeyFacts | undefined {
    return this.#snapshot.take(id.toString('hex'), key, use);
  }

  /** Drops the snapshot of a version before this process changes its attributes. */
  forgetSnapshot(id: Buffer): void {
    const key = id.toString('hex');
    this.#forgottenDuringRebuild?.add(key);
    this.#snapshot.drop(key);
  }

  /** Drops the whole snapshot (it expired, or no backend uses the token any more). */
  dropSnapshot(): void {
    clearTimeout(this.#snapshotExpiry);
    this.#snapshot = new EnumerationSnapshot();
  }

  /** The CKA_IDs (hex) whose objects carry a label with this owner part. */
  idsOfOwner(owner: string): readonly string[] {
    return [...(this.#byOwner.get(owner) ?? [])];
  }

  #set(
    objects: Map<string, IndexedObject[]>,
    byOwner: Map<string, Set<string>>,
    key: string,
    entry: readonly IndexedObject[],
  ): void {
    for (const object of objects.get(key) ?? []) {
      const owner = ownerOfLabel(object.label);
      const ids = byOwner.get(owner);
      ids?.delete(key);
      if (ids?.size === 0) byOwner.delete(owner);
    }
    if (entry.length === 0) {
      objects.delete(key);
      return;
    }
    objects.set(key, [...entry]);
    for (const object of entry) {
      const owner = ownerOfLabel(object.label);
      let ids = byOwner.get(owner);
      if (ids === undefined) byOwner.set(owner, (ids = new Set()));
      ids.add(key);
    }
  }

  /** Milliseconds since the last full enumeration. */
  age(): number {
    return performance.now() - this.#builtAt;
  }

  get size(): number {
    return this.#objects.size;
  }

  /** Every indexed CKA_ID (hex) with its objects, for finding a key's versions by label. */
  entries(): IterableIterator<[string, readonly IndexedObject[]]> {
    return this.#objects.entries();
  }

  /** Enumerates every key object on the token once and reads its CKA_ID and what its first verification needs. */
  async rebuild(pkcs11: pkcs11js.PKCS11, session: pkcs11js.Handle): Promise<void> {
    const startedAt = performance.now();
    const written = new Map<string, IndexedObject[]>();
    const forgotten = new Set<string>();
    this.#writtenDuringRebuild = written;
    this.#forgottenDuringRebuild = forgotten;
    try {
      const found = OBJECT_CLASSES.flatMap((cls) =>
        findAll(pkcs11, session, [
          { type: pkcs11js.CKA_CLASS, value: CKO_BY_CLASS[cls] },
          { type: pkcs11js.CKA_TOKEN, value: true },
        ]).map((handle) => ({ cls, handle })),
      );
      const objects = new Map<string, IndexedObject[]>();
      const byOwner = new Map<string, Set<string>>();
      const snapshot = new EnumerationSnapshot();
      for (const [i, { cls, handle }] of found.entries()) {
        if (i > 0 && i % OBJECTS_PER_TURN === 0) await yieldToEventLoop();
        const read = readEnumerated(pkcs11, session, { cls, handle });
        if (read === undefined || read.id.length === 0) continue;
        const key = read.id.toString('hex');
        const object = { cls, handle, label: read.label };
        this.#set(objects, byOwner, key, [...(objects.get(key) ?? []), object]);
        if (read.facts !== undefined) snapshot.add(key, object, read.facts);
      }
      for (const [key, entry] of written) this.#set(objects, byOwner, key, entry);
      for (const key of forgotten) snapshot.drop(key);
      this.#objects = objects;
      this.#byOwner = byOwner;
      this.#builtAt = startedAt;
      this.dropSnapshot();
      this.#snapshot = snapshot;
      this.#snapshotExpiry = setTimeout(() => {
        this.dropSnapshot();
      }, SNAPSHOT_LIFETIME_MS).unref();
    } finally {
      this.#writtenDuringRebuild = undefined;
      this.#forgottenDuringRebuild = undefined;
    }
  }
}

/** What every backend of this process on one token shares: a write by one is seen by the others at once. */
export interface TokenState {
  readonly index: KeyIndex;
  /** One create, setUsages or destroy at a time per key version (or per token, where generation is serial). */
  readonly locks: KeyedLock;
  release(): void;
}

const tokenStates = new Map<string, { index: KeyIndex; locks: KeyedLock; users: number }>();

/** The shared state of a token, by module path and token (slot and serial); released when a backend closes. */
export function shareTokenState(key: string): TokenState {
  let shared = tokenStates.get(key);
  if (shared === undefined) {
    shared = { index: new KeyIndex(), locks: new KeyedLock(), users: 0 };
    tokenStates.set(key, shared);
  }
  shared.users += 1;
  const entry = shared;
  let released = false;
  return {
    index: entry.index,
    locks: entry.locks,
    release() {
      if (released) return;
      released = true;
      entry.users -= 1;
      if (entry.users > 0) return;
      entry.index.dropSnapshot();
      if (tokenStates.get(key) === entry) tokenStates.delete(key);
    },
  };
}
