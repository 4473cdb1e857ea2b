// A small dynamic client for any resource (built-in or custom) on node:https (./http.ts), authenticated as the
// KubeConfig says (./config.ts). Objects are plain JSON; callers type them.

import type { Agent } from 'node:http';

import type { KubeConfig } from './config.ts';
import { KubeApiError } from './errors.ts';
import type { StatusDetails } from './errors.ts';
import { connectionPool, openStream, readLines, readText, send } from './http.ts';
import type { HttpMethod, HttpRequest } from './http.ts';
import type { KubeList, KubeObject } from './object.ts';
import type { ResourceType } from './resource.ts';
import { resourcePath } from './resource.ts';

export type { HttpMethod } from './http.ts';

export type PatchType = 'json' | 'merge' | 'apply';

const patchContentTypes: Record<PatchType, string> = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

export type JsonPatchOperation =
  { op: 'add' | 'replace' | 'test'; path: string; value: unknown } | { op: 'remove'; path: string };

export interface ListOptions {
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  limit?: number;
  continue?: string | undefined;
  signal?: AbortSignal;
}

export interface ListSnapshot<T> {
  items: T[];
  /** The list's resourceVersion: watch from here to see every later change. */
  resourceVersion: string;
}

export interface WatchOptions {
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  resourceVersion?: string;
  /** Server-side timeout: the API server ends the watch after this long. */
  timeoutSeconds?: number;
  allowWatchBookmarks?: boolean;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T> {
  type: WatchEventType;
  /** The object, or a metav1.Status for ERROR events. */
  object: T;
}

export interface WatchStatus {
  kind?: string;
  code?: number;
  reason?: string;
  message?: string;
}

export interface WriteOptions {
  subresource?: string;
  signal?: AbortSignal;
}

export interface KubeClientOptions {
  /** Timeout of every non-watch request. */
  requestTimeoutMs?: number;
  /** Recorded in managedFields for every write. */
  fieldManager?: string;
  userAgent?: string;
  /** Told about every request once its response status is known (or it failed: code undefined). */
  onResponse?: (method: HttpMethod, code: number | undefined) => void;
}

interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal | undefined;
}

export class KubeClient {
  readonly server: string;
  readonly fieldManager: string;
  readonly #kubeConfig: KubeConfig;
  readonly #pool: Agent;
  readonly #requestTimeoutMs: number;
  readonly #userAgent: string;
  readonly #onResponse: KubeClientOptions['onResponse'];

  constructor(kubeConfig: KubeConfig, options: KubeClientOptions = {}) {
    this.server = kubeConfig.server.replace(/\/+$/, '');
    this.#kubeConfig = kubeConfig;
    this.#pool = connectionPool(new URL(this.server));
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.fieldManager = options.fieldManager ?? 'keyward';
    this.#userAgent = options.userAgent ?? 'keyward';
    this.#onResponse = options.onResponse;
  }

  async get<T extends KubeObject>(
    resource: ResourceType,
    name: string,
    namespace?: string,
    options: { subresource?: string; signal?: AbortSignal } = {},
  ): Promise<T> {
    const path = resourcePath(resource, { namespace, name, subresource: options.subresource });
    return this.request<T>('GET', path, { signal: options.signal });
  }

  /** One page of a list; see listAll for every page. */
  async list<T extends KubeObject>(resource: ResourceType, options: ListOptions = {}): Promise<KubeList<T>> {
    return this.request<KubeList<T>>('GET', resourcePath(resource, { namespace: options.namespace }), {
      query: {
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        limit: options.limit,
        continue: options.continue,
      },
      signal: options.signal,
    });
  }

  /** Every page of a list, as one consistent snapshot with the resourceVersion to watch from. */
  async listAll<T extends KubeObject>(
    resource: ResourceType,
    options: Omit<ListOptions, 'continue'> = {},
  ): Promise<ListSnapshot<T>> {
    const items: T[] = [];
    let page = await this.list<T>(resource, { limit: 500, ...options });
    items.push(...page.items);
    while (page.metadata.continue) {
      page = await this.list<T>(resource, { limit: 500, ...options, continue: page.metadata.continue });
      items.push(...page.items);
    }
    return { items, resourceVersion: page.metadata.resourceVersion ?? '' };
  }

  async create<T extends KubeObject>(
    resource: ResourceType,
    object: T,
    options: WriteOptions = {},
  ): Promise<T> {
    const path = resourcePath(resource, {
      namespace: object.metadata.namespace,
      subresource: options.subresource,
    });
    return this.request<T>('POST', path, {
      body: object,
      query: { fieldManager: this.fieldManager },
      signal: options.signal,
    });
  }

  /** PUT: fails with 409 Conflict when metadata.resourceVersion is stale. */
  async replace<T extends KubeObject>(
    resource: ResourceType,
    object: T,
    options: WriteOptions = {},
  ): Promise<T> {
    const path = resourcePath(resource, {
      namespace: object.metadata.namespace,
      name: object.metadata.name,
      subresource: options.subresource,
    });
    return this.request<T>('PUT', path, {
      body: object,
      query: { fieldManager: this.fieldManager },
      signal: options.signal,
    });
  }

  async patch<T extends KubeObject>(
    resource: ResourceType,
    name: string,
    namespace: string | undefined,
    type: PatchType,
    patch: unknown,
    options: WriteOptions & { force?: boolean } = {},
  ): Promise<T> {
    const path = resourcePath(resource, { namespace, name, subresource: options.subresource });
    return this.request<T>('PATCH', path, {
      body: patch,
      contentType: patchContentTypes[type],
      query: { fieldManager: this.fieldManager, force: type === 'apply' ? options.force : undefined },
      signal: options.signal,
    });
  }

  async delete(
    resource: ResourceType,
    name: string,
    namespace?: string,
    options: { preconditions?: { uid?: string; resourceVersion?: string }; signal?: AbortSignal } = {},
  ): Promise<void> {
    const body =
      options.preconditions === undefined
        ? undefined
        : { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: options.preconditions };
    await this.request<unknown>('DELETE', resourcePath(resource, { namespace, name }), {
      body,
      signal: options.signal,
    });
  }

  /**
   * Streams watch events until the server ends the watch (returns) or `signal` aborts or the connection
   * fails (throws). ERROR events are yielded as they come; the caller decides (410 means relist).
   */
  async *watch<T extends KubeObject>(
    resource: ResourceType,
    options: WatchOptions,
    signal: AbortSignal,
  ): AsyncGenerator<WatchEvent<T | WatchStatus>> {
    const path = resourcePath(resource, { namespace: options.namespace });
    const query = {
      watch: true,
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
      resourceVersion: options.resourceVersion,
      timeoutSeconds: options.timeoutSeconds,
      allowWatchBookmarks: options.allowWatchBookmarks,
    };
    // A watch runs until aborted (no request timeout) on a connection of its own, closed when it ends: a
    // watch that went silent may sit on a half-open connection, which must not be reused.
    const request = await this.#prepare('GET', path, { query });
    const { response, close } = await openStream(request, signal, (code) => {
      this.#answered('GET', code);
    });
    try {
      if (response.statusCode !== 200) {
        throw apiErrorFromText('GET', path, response.statusCode ?? 0, await readText(response));
      }
      for await (const line of readLines(response)) {
        if (line.trim() === '') continue;
        yield JSON.parse(line) as WatchEvent<T | WatchStatus>;
      }
    } finally {
      close();
    }
  }

  /** A raw request to any API path; throws KubeApiError for non-2xx answers. */
  async request<T>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
    const { status, text } = await send(await this.#prepare(method, path, options), this.#pool, {
      timeoutMs: this.#requestTimeoutMs,
      signal: options.signal,
      onStatus: (code) => {
        this.#answered(method, code);
      },
    });
    if (status < 200 || status > 299) throw apiErrorFromText(method, path, status, text);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  async #prepare(method: HttpMethod, path: string, options: RequestOptions): Promise<HttpRequest> {
    const url = new URL(this.server + path);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const auth = await this.#kubeConfig.requestOptions();
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.#userAgent };
    Object.assign(headers, auth.headers);
    if (options.body === undefined) return { ...auth, url, method, headers };
    headers['content-type'] = options.contentType ?? 'application/json';
    return { ...auth, url, method, headers, body: JSON.stringify(options.body) };
  }

  #answered(method: HttpMethod, code: number | undefined): void {
    if (code === 401) this.#kubeConfig.unauthorized();
    this.#onResponse?.(method, code);
  }
}

function apiErrorFromText(method: string, path: string, code: number, text: string): KubeApiError {
  let status: { message?: string; reason?: string; details?: StatusDetails } = {};
  try {
    status = JSON.parse(text) as typeof status;
  } catch {
    // Not a metav1.Status (a proxy error page, say): the code says enough.
  }
  const message = status.message ?? `HTTP ${code}`;
  return new KubeApiError(code, `${method} ${path}: ${message}`, status.reason, status.details);
}
