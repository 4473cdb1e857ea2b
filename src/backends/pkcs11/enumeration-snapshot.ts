// What an enumeration of the token read of each key object, so that the first observe() and the first publicKey()
// of each version after it make no token call. A restarted operator verifies every recorded version once, at the
// start of the process (controllers/managedkey/verification.ts); an enumeration at connect is such a check of the
// token, so answering the first verification from it weakens nothing, and saves about 7 synchronous token calls a
// key. Each use is answered once: later calls read the token live, and any write of this process to a version drops
// its snapshot (KeyIndex.put, KeyIndex.forgetSnapshot); the index drops the whole snapshot a while after the
// enumeration.

import type { IndexedObject } from './key-index.ts';
import type { KeyFacts, KeyObjects } from './key-objects.ts';
import type { ObjectFacts } from './object-facts.ts';

export type SnapshotUse = 'observe' | 'publicKey';

/** An object's facts less what the index holds already: its CKA_ID is the snapshot's key, class and label are the IndexedObject's. */
type StoredFacts = Pick<ObjectFacts, 'keyType' | 'flags' | 'algorithm' | 'material'>;

interface StoredObject {
  /** The very object the enumeration put in the index: a version found otherwise is not what it read. */
  readonly object: IndexedObject;
  readonly facts: StoredFacts;
}

interface VersionSnapshot {
  primary: StoredObject | undefined;
  public: StoredObject | undefined;
  observed: boolean;
  publicKeyRead: boolean;
}

function stored(object: IndexedObject, facts: ObjectFacts): StoredObject {
  const { keyType, flags, algorithm, material } = facts;
  // Copies into Node's shared pool: a Buffer pkcs11js made costs about 240 bytes of heap besides its bytes.
  return {
    object,
    facts: { keyType, flags, algorithm, material: material?.map((value) => Buffer.from(value)) },
  };
}

function restored(key: string, { object, facts }: StoredObject): ObjectFacts {
  return { cls: object.cls, id: Buffer.from(key, 'hex'), label: object.label, ...facts };
}

export class EnumerationSnapshot {
  readonly #versions = new Map<string, VersionSnapshot>();

  /** Keeps what the enumeration read of an object it indexed under this CKA_ID (hex). */
  add(key: string, object: IndexedObject, facts: ObjectFacts): void {
    let version = this.#versions.get(key);
    if (version === undefined) {
      version = { primary: undefined, public: undefined, observed: false, publicKeyRead: false };
      this.#versions.set(key, version);
    }
    // Of two objects of a class under one id the last is kept: groupKeyObjects refuses such a version before a take.
    if (object.cls === 'public') version.public = stored(object, facts);
    else version.primary = stored(object, facts);
  }

  /** What the enumeration read of these objects, the first time `use` asks; undefined when it has nothing for it. */
  take(key: string, objects: KeyObjects, use: SnapshotUse): KeyFacts | undefined {
    const version = this.#versions.get(key);
    if (version === undefined || (use === 'observe' ? version.observed : version.publicKeyRead))
      return undefined;
    if (use === 'observe') version.observed = true;
    else version.publicKeyRead = true;
    // A version without a public key is never asked for one by a verification.
    if (version.observed && (version.publicKeyRead || version.public === undefined))
      this.#versions.delete(key);
    const { primary } = version;
    if (primary?.object !== objects.primary || version.public?.object !== objects.public) return undefined;
    return { primary: restored(key, primary), public: version.public && restored(key, version.public) };
  }

  drop(key: string): void {
    this.#versions.delete(key);
  }
}
