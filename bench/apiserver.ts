// The API server's own request counters (apiserver_request_total on its /metrics), read with the kubeconfig's
// client certificate: what every client did, the operator included, counted by the server rather than by us.

import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { type KubeConfig, loadKubeConfig } from '../src/kube/config.ts';
import { stateDir, stateFiles } from '../scripts/testenv/paths.ts';
import { type Sample, parseExposition, sum } from './prometheus.ts';

const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'DELETECOLLECTION', 'APPLY']);

export interface RequestCounts {
  /** Every request the API server answered. */
  readonly total: number;
  /** Writes to keyward.io objects (ManagedKey, KeyBackend, ... and their status). */
  readonly keywardWrites: number;
}

export class ApiServerMetrics {
  readonly #kubeConfig: KubeConfig;

  constructor(kubeconfigPath: string) {
    this.#kubeConfig = loadKubeConfig({ path: kubeconfigPath }).kubeConfig;
  }

  async samples(): Promise<Sample[]> {
    const server = this.#kubeConfig.server;
    // A connection of its own: a pooled one the API server dropped during a quiet period fails with ECONNRESET.
    const options = { ...(await this.#kubeConfig.requestOptions()), method: 'GET', agent: false };
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(new URL('/metrics', server), options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          if (res.statusCode === 200) resolve(Buffer.concat(chunks).toString('utf8'));
          else reject(new Error(`GET /metrics: HTTP ${res.statusCode ?? '?'}`));
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    return parseExposition(text);
  }

  async counts(): Promise<RequestCounts> {
    const samples = await this.samples();
    return {
      total: sum(samples, 'apiserver_request_total'),
      keywardWrites: sum(
        samples,
        'apiserver_request_total',
        (l) => l.group === 'keyward.io' && WRITE_VERBS.has(l.verb ?? ''),
      ),
    };
  }
}

export function countsSince(after: RequestCounts, before: RequestCounts): RequestCounts {
  return { total: after.total - before.total, keywardWrites: after.keywardWrites - before.keywardWrites };
}

/** USER_HZ, 100 on Linux for every architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time (user + system) of the local control plane process (kube-apiserver and etcd in one), from /proc. */
export function controlPlaneCpuSeconds(): number {
  const pid = readFileSync(stateFiles(stateDir()).pid, 'utf8').trim();
  // Fields after the command name (which is in parentheses): utime and stime are the 12th and 13th, in clock ticks.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}
