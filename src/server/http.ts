// The operator's HTTP endpoints, on kubebuilder's two listeners: /metrics on the metrics address, /healthz
// and /readyz on the health probe address.

import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

export interface ProbeChecks {
  /** Liveness: false only when the process is wedged and should be restarted. */
  healthy(): boolean;
  /** Readiness: informers synced. Leadership does not count: a standby is ready. */
  ready(): boolean;
}

export interface MetricsSource {
  exposition(): Promise<{ contentType: string; body: string }>;
}

/**
 * Parses a Go-style listen address: ":8080" (all interfaces), "127.0.0.1:0" (a free port), "[::1]:8080".
 * "0" means disabled (kubebuilder's convention) and returns undefined.
 */
export function parseBindAddress(address: string): { host: string | undefined; port: number } | undefined {
  if (address === '0') return undefined;
  const colon = address.lastIndexOf(':');
  if (colon < 0) throw new Error(`invalid bind address "${address}" (expected host:port or :port)`);
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535 || address.slice(colon + 1) === '') {
    throw new Error(`invalid port in bind address "${address}"`);
  }
  return { host: host === '' ? undefined : host, port };
}

export function metricsHandler(source: MetricsSource): Handler {
  return async (request, response) => {
    if (request.url?.split('?')[0] !== '/metrics') {
      notFound(response);
      return;
    }
    const { contentType, body } = await source.exposition();
    response.writeHead(200, { 'content-type': contentType }).end(body);
  };
}

export function probesHandler(checks: ProbeChecks): Handler {
  return (request, response) => {
    const path = request.url?.split('?')[0];
    if (path === '/healthz') answer(response, checks.healthy(), 'unhealthy');
    else if (path === '/readyz') answer(response, checks.ready(), 'not ready');
    else notFound(response);
  };
}

export interface RunningServer {
  /** The bound address ("127.0.0.1:43121"), useful with port 0. */
  address: string;
  close(): Promise<void>;
}

/** Listens on `bindAddress`; resolves once bound, or undefined when the address is "0" (disabled). */
export async function serve(bindAddress: string, handler: Handler): Promise<RunningServer | undefined> {
  const parsed = parseBindAddress(bindAddress);
  if (!parsed) return undefined;
  const server: Server = createServer((request, response) => {
    Promise.resolve(handler(request, response)).catch(() => {
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(parsed.port, parsed.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    address: `${host}:${bound.port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

function answer(response: ServerResponse, ok: boolean, failure: string): void {
  response.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok' : failure);
}

function notFound(response: ServerResponse): void {
  response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
}
