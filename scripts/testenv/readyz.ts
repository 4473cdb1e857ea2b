import { readFileSync } from 'node:fs';
import { request } from 'node:https';

import { stateFiles } from './paths.ts';

/** The server address and the admin credentials, as keyward-controlplane wrote them. */
export interface Endpoint {
  server: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** Undefined until the control plane has chosen its ports and created its certificates. */
export function readEndpoint(dir: string): Endpoint | undefined {
  const files = stateFiles(dir);
  try {
    const ports = JSON.parse(readFileSync(files.ports, 'utf8')) as { apiserver?: unknown };
    if (typeof ports.apiserver !== 'number') return undefined;
    return {
      server: `https://127.0.0.1:${ports.apiserver}`,
      ca: readFileSync(files.caCert),
      cert: readFileSync(files.adminCert),
      key: readFileSync(files.adminKey),
    };
  } catch {
    return undefined;
  }
}

/** True when GET /readyz answers 200 to the admin client certificate. */
export function isReady(endpoint: Endpoint, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      new URL('/readyz', endpoint.server),
      { ca: endpoint.ca, cert: endpoint.cert, key: endpoint.key, timeout: timeoutMs, agent: false },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.once('timeout', () => req.destroy());
    req.once('error', () => {
      resolve(false);
    });
    req.end();
  });
}
