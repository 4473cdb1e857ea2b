// A small dynamic client for any resource (built-in or custom), on client-node's own transport: its
// KubeConfig authentication (client certificates, tokens, exec plugins, in-cluster token refresh) and its
// undici fetch. Objects are plain JSON; callers type them.

import type { KubeConfig, ResponseContext } from '@kubernetes/client-node';
import { HttpMethod, IsomorphicFetchHttpLibrary, RequestContext } from '@kubernetes/client-node';

import { KubeApiError } from './errors.ts';
import type { StatusDetails } from './errors.ts';
import type { KubeList, KubeObject } from './object.ts';
import type { ResourceType } from './resource.ts';
import { resourcePath } from './resource.ts';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

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
  readonly #http = new IsomorphicFetchHttpLibrary();
  readonly #requestTimeoutMs: number;
  readonly #userAgent: string;
  readonly #onResponse: KubeClientOptions['onResponse'];
  #pool: Dispatcher | undefined;

  constructor(kubeConfig: KubeConfig, options: KubeClientOptions = {}) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('the Kubernetes configuration has no current cluster');
    this.server = cluster.server.replace(/\/+$/, '');
    this.#kubeConfig = kubeConfig;
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
    return this.request<T>(HttpMethod.GET, path, { signal: options.signal });
  }

  /** One page of a list; see listAll for every page. */
  async list<T extends KubeObject>(resource: ResourceType, options: ListOptions = {}): Promise<KubeList<T>> {
    return this.request<KubeList<T>>(
      HttpMethod.GET,
      resourcePath(resource, { namespace: options.namespace }),
      {
        query: {
          labelSelector: options.labelSelector,
          fieldSelector: options.fieldSelector,
          limit: options.limit,
          continue: options.continue,
        },
        signal: options.signal,
      },
    );
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
    return this.request<T>(HttpMethod.POST, path, {
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
    return this.request<T>(HttpMethod.PUT, path, {
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
    return this.request<T>(HttpMethod.PATCH, path, {
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
    await this.request<unknown>(HttpMethod.DELETE, resourcePath(resource, { namespace, name }), {
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
    const context = await this.#prepare(HttpMethod.GET, path, { query });
    const connection = context.getDispatcher();
    context.setSignal(signal);
    try {
      const response = await this.#exchange(context);
      if (response.httpStatusCode !== 200) throw await apiError(HttpMethod.GET, path, response);
      const body = response.body.stream();
      if (!body) return;
      for await (const line of readLines(body)) {
        if (line.trim() === '') continue;
        yield JSON.parse(line) as WatchEvent<T | WatchStatus>;
      }
    } finally {
      void connection?.destroy();
    }
  }

  /** A raw request to any API path; throws KubeApiError for non-2xx answers. */
  async request<T>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
    const context = await this.#prepare(method, path, options);
    // client-node builds a new undici Agent for every request, which opens a new TLS connection each time.
    // Requests share one pool instead; the headers (tokens) are still applied afresh to each request.
    this.#pool ??= context.getDispatcher();
    const pool = this.#pool;
    if (pool) context.setDispatcher(pool);
    const timeout = AbortSignal.timeout(this.#requestTimeoutMs);
    context.setSignal(options.signal ? AbortSignal.any([options.signal, timeout]) : timeout);
    let response: ResponseContext;
    let text: string;
    try {
      response = await this.#exchange(context);
      text = await response.body.text();
    } catch (err) {
      // undici keeps using a connection whose request timed out, so a half-open connection would hang
      // every later request. Drop the whole pool; requests still in flight on it fail and are retried.
      if (pool && this.#pool === pool) {
        this.#pool = undefined;
        void pool.destroy();
      }
      throw err;
    }
    if (response.httpStatusCode < 200 || response.httpStatusCode > 299) {
      throw apiErrorFromText(method, path, response.httpStatusCode, text);
    }
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  async #prepare(method: HttpMethod, path: string, options: RequestOptions): Promise<RequestContext> {
    const url = new URL(this.server + path);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const context = new RequestContext(url.toString(), method);
    context.setHeaderParam('Accept', 'application/json');
    context.setHeaderParam('User-Agent', this.#userAgent);
    if (options.body !== undefined) {
      context.setHeaderParam('Content-Type', options.contentType ?? 'application/json');
      context.setBody(JSON.stringify(options.body));
    }
    await this.#kubeConfig.applySecurityAuthentication(context);
    return context;
  }

  async #exchange(context: RequestContext): Promise<ResponseContext> {
    const method = context.getHttpMethod();
    try {
      const response = await this.#http.send(context).toPromise();
      this.#onResponse?.(method, response.httpStatusCode);
      return response;
    } catch (err) {
      this.#onResponse?.(method, undefined);
      throw err;
    }
  }
}

async function apiError(method: string, path: string, response: ResponseContext): Promise<KubeApiError> {
  return apiErrorFromText(method, path, response.httpStatusCode, await response.body.text());
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

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
    }
  }
  buffered += decoder.decode();
  if (buffered !== '') yield buffered;
}
