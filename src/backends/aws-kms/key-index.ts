// Which KMS key holds which Keyward version. KMS cannot filter keys by tag: ListKeys returns ids only (1,000 a page),
// and a key's tags take one ListResourceTags call each. (The Resource Groups Tagging API's GetResources can filter by
// tag, but it is another service, another IAM permission and eventually consistent, so a key created a moment ago
// may be missing from it: no use for finding an interrupted CreateKey.) So the index is built the plain way, and
// only as often as it must be:
//
// - a version alias (naming.ts) names the key of a version: one DescribeKey, no scan;
// - the first time a version is not found that way, one scan of the account's keys in the region: the aliases first
//   (100 a page; a key behind a version alias is known without reading its tags), then ListKeys, then the tags of
//   every key not known yet;
// - later scans read the tags of new keys only: a key's tags are written by CreateKey, so a key seen once without
//   Keyward's tags never becomes a Keyward key (unless a person tags it by hand);
// - after the first scan a version missing from the index can only exist if this process sent its CreateKey and never
//   learnt the outcome (a timeout, a lost response): create() marks those uncertain and scans again for them.
//
// So a process pays ceil(aliases/100) + ceil(keys/1000) + (keys without a version alias) calls once, and after that
// ceil(keys/1000) + (new keys) for each uncertain create. Another writer creating Keyward keys at the same time (a
// second operator that thinks it leads) is not seen until refresh().

import {
  type KMSClient,
  ListAliasesCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  type Tag,
} from '@aws-sdk/client-kms';
import type { CallOptions } from '../backend.ts';
import { isBackendError } from '../errors.ts';
import type { KeyIdentity } from '../identity.ts';
import { awsCall } from '../aws/client-config.ts';
import { type TaggedIdentity, parseVersionAlias, taggedIdentity } from './naming.ts';

/** ListResourceTags calls in flight during a scan. */
const TAG_READS_IN_FLIGHT = 8;

const versionKey = (identity: Pick<KeyIdentity, 'uid' | 'version'>) => `${identity.uid}/${identity.version}`;

export interface IndexedVersion {
  readonly uid: string;
  readonly version: number;
  readonly keyId: string;
}

export class KmsKeyIndex {
  readonly #client: KMSClient;
  /** `uid/version` -> key id. */
  readonly #byVersion = new Map<string, string>();
  /** Key ids whose ownership is known (tags read, or behind a version alias). */
  readonly #known = new Set<string>();
  readonly #uncertain = new Set<string>();
  #scanned = false;
  #scanning: Promise<void> | undefined;

  constructor(client: KMSClient) {
    this.#client = client;
  }

  lookup(identity: KeyIdentity): string | undefined {
    return this.#byVersion.get(versionKey(identity));
  }

  remember(identity: Pick<KeyIdentity, 'uid' | 'version'>, keyId: string): void {
    this.#byVersion.set(versionKey(identity), keyId);
    this.#known.add(keyId);
    this.#uncertain.delete(versionKey(identity));
  }

  /** CreateKey was sent for this version and its outcome is unknown: the next lookup that misses scans. */
  markUncertain(identity: KeyIdentity): void {
    this.#uncertain.add(versionKey(identity));
  }

  /** Whether a miss could still be a key the index has not seen. */
  mayBeMissing(identity: KeyIdentity): boolean {
    return !this.#scanned || this.#uncertain.has(versionKey(identity));
  }

  versionsOf(uid: string): IndexedVersion[] {
    const found: IndexedVersion[] = [];
    for (const [key, keyId] of this.#byVersion) {
      const slash = key.lastIndexOf('/');
      if (key.slice(0, slash) === uid) found.push({ uid, version: Number(key.slice(slash + 1)), keyId });
    }
    return found.sort((a, b) => b.version - a.version);
  }

  /** Forgets everything, so the next miss scans the account again. */
  clear(): void {
    this.#byVersion.clear();
    this.#known.clear();
    this.#uncertain.clear();
    this.#scanned = false;
  }

  /** Scans (see the header comment); concurrent callers share one scan. */
  async scan(options?: CallOptions): Promise<void> {
    this.#scanning ??= this.#scan(options).finally(() => {
      this.#scanning = undefined;
    });
    return this.#scanning;
  }

  async #scan(options?: CallOptions): Promise<void> {
    if (!this.#scanned) await this.#readVersionAliases(options);
    const unknown = (await this.#listKeyIds(options)).filter((keyId) => !this.#known.has(keyId));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < unknown.length) {
        const keyId = unknown[next++] as string;
        const tagged = await this.readTags(keyId, options).then(taggedIdentity, (error: unknown) => {
          // A key this principal may not read (another team's key policy) or one deleted meanwhile is not ours.
          if (isBackendError(error) && (error.code === 'PermissionDenied' || error.code === 'NotFound')) {
            return undefined;
          }
          throw error;
        });
        this.#known.add(keyId);
        if (tagged) this.remember(tagged, keyId);
      }
    };
    await Promise.all(Array.from({ length: TAG_READS_IN_FLIGHT }, worker));
    this.#scanned = true;
    this.#uncertain.clear();
  }

  async readTags(keyId: string, options?: CallOptions): Promise<Tag[]> {
    const tags: Tag[] = [];
    let marker: string | undefined;
    do {
      const page = await awsCall('KMS ListResourceTags', options, (abortSignal) =>
        this.#client.send(new ListResourceTagsCommand({ KeyId: keyId, Marker: marker }), { abortSignal }),
      );
      tags.push(...(page.Tags ?? []));
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
    return tags;
  }

  /** Tags of a key, read and parsed; also remembers what they say. */
  async identityOf(keyId: string, options?: CallOptions): Promise<TaggedIdentity | undefined> {
    const tagged = taggedIdentity(await this.readTags(keyId, options));
    this.#known.add(keyId);
    if (tagged) this.remember(tagged, keyId);
    return tagged;
  }

  async #readVersionAliases(options?: CallOptions): Promise<void> {
    let marker: string | undefined;
    do {
      const page = await awsCall('KMS ListAliases', options, (abortSignal) =>
        this.#client.send(new ListAliasesCommand({ Limit: 100, Marker: marker }), { abortSignal }),
      );
      for (const alias of page.Aliases ?? []) {
        const named = alias.AliasName === undefined ? undefined : parseVersionAlias(alias.AliasName);
        if (named && alias.TargetKeyId) this.remember(named, alias.TargetKeyId);
      }
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
  }

  async #listKeyIds(options?: CallOptions): Promise<string[]> {
    const ids: string[] = [];
    let marker: string | undefined;
    do {
      const page = await awsCall('KMS ListKeys', options, (abortSignal) =>
        this.#client.send(new ListKeysCommand({ Limit: 1000, Marker: marker }), { abortSignal }),
      );
      for (const key of page.Keys ?? []) if (key.KeyId) ids.push(key.KeyId);
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
    return ids;
  }
}
