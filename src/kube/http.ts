// HTTP/1.1 exchanges with the API server on node:https (node:http for an http:// server). Ordinary requests share
// a keep-alive pool; a watch gets a connection of its own. Whatever ends a request early (an error, the caller's
// signal, the timeout) destroys it and so its socket: a connection that timed out may be half-open, and the pool
// must not hand it to the next request.

import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

import type { KubeRequestOptions } from './config.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpRequest extends KubeRequestOptions {
  url: URL;
  method: HttpMethod;
  body?: string | undefined;
}

export interface HttpAnswer {
  status: number;
  text: string;
}

/** Told once per request: the status code when the response head arrives, or undefined if none did. */
export type StatusListener = (code: number | undefined) => void;

/** A watch's response, being read; close() ends the request and its connection. */
export interface HttpStream {
  response: IncomingMessage;
  close: () => void;
}

/**
 * The pool for a server. Idle connections are closed after 60 s, before kube-apiserver closes them (90 s): a
 * request sent on a connection the server is closing fails with ECONNRESET.
 */
export function connectionPool(server: URL, maxSockets = 32): HttpAgent {
  const options = { keepAlive: true, maxSockets, timeout: 60_000 };
  return server.protocol === 'http:' ? new HttpAgent(options) : new HttpsAgent(options);
}

/** The whole answer to one request on `agent`'s pool. */
export function send(
  request: HttpRequest,
  agent: HttpAgent,
  control: { timeoutMs: number; signal?: AbortSignal | undefined; onStatus: StatusListener },
): Promise<HttpAnswer> {
  const { signal, onStatus, timeoutMs } = control;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      onStatus(undefined);
      reject(abortReason(signal));
      return;
    }
    const req = start(request, agent);
    let status: number | undefined;
    let done = false;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const fail = (err: Error): void => {
      if (!finish()) return;
      if (status === undefined) onStatus(undefined);
      req.destroy();
      reject(err);
    };
    const onAbort = (): void => {
      if (signal) fail(abortReason(signal));
    };
    // Not AbortSignal.timeout(): a plain timer per request is cheaper, and the error says what timed out.
    const timer = setTimeout(() => {
      fail(
        new DOMException(
          `${request.method} ${request.url.pathname}: no answer within ${timeoutMs} ms`,
          'TimeoutError',
        ),
      );
    }, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', fail);
    req.once('response', (response) => {
      status = response.statusCode ?? 0;
      onStatus(status);
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', fail);
      response.once('end', () => {
        if (finish()) resolve({ status: status ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end(request.body);
  });
}

/** A request on a connection of its own, resolved once its response head arrives; `signal` ends it at any time. */
export function openStream(
  request: HttpRequest,
  signal: AbortSignal,
  onStatus: StatusListener,
): Promise<HttpStream> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      onStatus(undefined);
      reject(abortReason(signal));
      return;
    }
    const req = start(request, false);
    let response: IncomingMessage | undefined;
    const close = (reason?: Error): void => {
      signal.removeEventListener('abort', onAbort);
      // The reader of the response sees the reason (the caller's abort) rather than a connection reset.
      response?.destroy(reason);
      req.destroy();
    };
    const onAbort = (): void => {
      const reason = abortReason(signal);
      if (!response) {
        onStatus(undefined);
        reject(reason);
      }
      close(reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => {
      if (response) return; // the response's reader sees it
      onStatus(undefined);
      close();
      reject(err);
    });
    req.once('response', (res) => {
      response = res;
      // An error before the caller starts reading would otherwise be unhandled; reading rethrows it.
      res.on('error', () => undefined);
      res.setEncoding('utf8');
      onStatus(res.statusCode);
      resolve({
        response: res,
        close: () => {
          close();
        },
      });
    });
    req.end();
  });
}

/** A response's body as text (the encoding set, as openStream does). */
export async function readText(response: AsyncIterable<string>): Promise<string> {
  let text = '';
  for await (const chunk of response) text += chunk;
  return text;
}

/** A stream's lines, however its chunks split them. */
export async function* readLines(stream: AsyncIterable<string>): AsyncGenerator<string> {
  let buffered = '';
  for await (const chunk of stream) {
    buffered += chunk;
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
    }
  }
  if (buffered !== '') yield buffered;
}

/** What an aborted signal rejects with: its reason (a DOMException AbortError or TimeoutError, usually). */
function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException(String(reason), 'AbortError');
}

function start(request: HttpRequest, agent: HttpAgent | false): ClientRequest {
  const { url, method, body, headers, ...tls } = request;
  const options = {
    ...tls,
    method,
    agent,
    headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
  };
  return url.protocol === 'http:' ? httpRequest(url, options) : httpsRequest(url, options);
}
