// The operator as the cluster runs it: main in a child process of its own, with leader election on (its Lease in the
// benchmark's namespace, where the first operator leads at once). Its memory is read from /proc.
//
// `dist` runs the compiled JavaScript (npm run build), as the image does (Dockerfile: node dist/main.js); `source`
// runs src/main.ts with Node's type stripping, as the tests do.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { imageNodeFlags } from '../test/fixtures/image-entrypoint.ts';
import {
  baseArgs,
  mainPath,
  startOperator,
  type OperatorProcess,
} from '../test/fixtures/operator-process.ts';
import { parseExposition, type Sample } from './prometheus.ts';

export type OperatorBuild = 'dist' | 'source';

const repoRoot = join(import.meta.dirname, '..');

/** The entry point of `build`, compiled first for `dist`. */
export function operatorEntryPoint(build: OperatorBuild): string {
  if (build === 'source') return mainPath;
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(repoRoot, 'tsconfig.build.json')], { stdio: 'inherit' });
  return join(repoRoot, 'dist', 'main.js');
}

export interface BenchOperator {
  readonly process: OperatorProcess;
  readonly pid: number;
  metrics(): Promise<Sample[]>;
  /** The process's peak resident set (VmHWM), MiB. */
  peakRssMb(): number;
  stop(): Promise<void>;
}

export async function startBenchOperator(
  name: string,
  kubeconfig: string,
  namespace: string,
  extraArgs: readonly string[],
  script: string,
  logFile: string,
  profileDir?: string,
): Promise<BenchOperator> {
  const args = [
    ...baseArgs(kubeconfig, namespace).filter((a) => !a.startsWith('--log-level')),
    '--log-level=info',
    ...extraArgs,
  ];
  // Profiling: a CPU profile written when the process exits, a heap snapshot on SIGUSR2 (taken before it stops).
  const env =
    profileDir === undefined
      ? process.env
      : {
          ...process.env,
          NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir} --diagnostic-dir=${profileDir} --heapsnapshot-signal=SIGUSR2`,
        };
  // With the image's node flags (Dockerfile ENTRYPOINT), as the image runs it.
  const process_ = startOperator(name, args, { script, env, nodeFlags: imageNodeFlags() });
  // Its log, kept next to the results (a crashed run is explained by it).
  void process_.exited.then(() => {
    writeFileSync(logFile, process_.logs.map((l) => JSON.stringify(l)).join('\n') + '\n');
  });
  const pid = process_.child.pid;
  if (pid === undefined) throw new Error(`${name} did not start`);
  const metricsUrl = `${await process_.url('metrics')}/metrics`;
  return {
    process: process_,
    pid,
    async metrics() {
      return parseExposition(await scrape(metricsUrl));
    },
    peakRssMb() {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]);
      return kb / 1024;
    },
    async stop() {
      if (profileDir !== undefined) {
        process_.child.kill('SIGUSR2');
        await new Promise((resolve) => setTimeout(resolve, 5_000));
      }
      process_.child.kill('SIGTERM');
      await process_.exited;
    },
  };
}

/**
 * One scrape on a connection of its own: a pooled one the operator's server closed while it sat idle (it keeps idle
 * connections 5 s; the quiet period is longer) fails with ECONNRESET.
 */
function scrape(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        resolve(text);
      });
      response.on('error', reject);
    }).on('error', reject);
  });
}
