// The token's key objects by CKA_ID, built from one enumeration. A C_FindObjects by CKA_ID is a linear scan in
// SoftHSM (about 68 ms per lookup with 2,000 keys) while enumerating all keys once takes about 180 ms, so lookups
// are answered from this map and the token is searched per key only where it must be authoritative (before
// generating or destroying).

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
import { isPkcs11Error } from './errors.ts';

export interface IndexedObject {
  readonly cls: ObjectClass;
  readonly handle: pkcs11js.Handle;
  /** CKA_LABEL as read when the object was found. */
  readonly label: string;
}

const FIND_BATCH = 256;
/** Attribute reads between two yields to the event loop while enumerating (pkcs11js calls are synchronous). */
const READS_PER_TURN = 256;

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

export class KeyIndex {
  #objects = new Map<string, IndexedObject[]>();
  #builtAt = Number.NEGATIVE_INFINITY;
  /** Entries written while a rebuild runs; they are newer than what the rebuild saw. */
  #writtenDuringRebuild: Map<string, IndexedObject[]> | undefined;

  /** The indexed objects with this CKA_ID (empty when none). */
  lookup(id: Buffer): readonly IndexedObject[] {
    return this.#objects.get(id.toString('hex')) ?? [];
  }

  /** Records what the token holds for this CKA_ID after we searched, generated or destroyed. */
  put(id: Buffer, objects: readonly IndexedObject[]): void {
    const key = id.toString('hex');
    this.#writtenDuringRebuild?.set(key, [...objects]);
    if (objects.length === 0) this.#objects.delete(key);
    else this.#objects.set(key, [...objects]);
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

  /** Enumerates every key object on the token once and reads its CKA_ID. */
  async rebuild(pkcs11: pkcs11js.PKCS11, session: pkcs11js.Handle): Promise<void> {
    const startedAt = performance.now();
    const written = new Map<string, IndexedObject[]>();
    this.#writtenDuringRebuild = written;
    try {
      const found = OBJECT_CLASSES.flatMap((cls) =>
        findAll(pkcs11, session, [
          { type: pkcs11js.CKA_CLASS, value: CKO_BY_CLASS[cls] },
          { type: pkcs11js.CKA_TOKEN, value: true },
        ]).map((handle) => ({ cls, handle })),
      );
      const objects = new Map<string, IndexedObject[]>();
      for (const [i, { cls, handle }] of found.entries()) {
        if (i > 0 && i % READS_PER_TURN === 0) await yieldToEventLoop();
        const naming = readNaming(pkcs11, session, handle);
        if (naming === undefined || naming.id.length === 0) continue;
        const key = naming.id.toString('hex');
        objects.set(key, [...(objects.get(key) ?? []), { cls, handle, label: naming.label }]);
      }
      for (const [key, entry] of written) {
        if (entry.length === 0) objects.delete(key);
        else objects.set(key, entry);
      }
      this.#objects = objects;
      this.#builtAt = startedAt;
    } finally {
      this.#writtenDuringRebuild = undefined;
    }
  }
}

/** CKA_ID and CKA_LABEL of an object, or undefined when it was destroyed since it was found. */
function readNaming(
  pkcs11: pkcs11js.PKCS11,
  session: pkcs11js.Handle,
  handle: pkcs11js.Handle,
): { id: Buffer; label: string } | undefined {
  try {
    const attributes = readAttributes(pkcs11, session, handle, [pkcs11js.CKA_ID, pkcs11js.CKA_LABEL]);
    return {
      id: bufferAttribute(attributes, pkcs11js.CKA_ID),
      label: bufferAttribute(attributes, pkcs11js.CKA_LABEL).toString('utf8'),
    };
  } catch (error) {
    if (isPkcs11Error(error, pkcs11js.CKR_OBJECT_HANDLE_INVALID)) return undefined;
    throw error;
  }
}
