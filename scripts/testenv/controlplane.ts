import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

import { ensureBinaries } from './build.ts';
import { elapsedSince } from './elapsed.ts';
import { withLock } from './lock.ts';
import { stateDir, stateFiles } from './paths.ts';
import { executableOf, isControlPlane, readPid, waitForExit } from './process.ts';
import { type Endpoint, isReady, readEndpoint } from './readyz.ts';

export interface ControlPlane {
  /** Absolute path of the admin kubeconfig. */
  kubeconfig: string;
  /** https://127.0.0.1:PORT */
  server: string;
  /** State directory. */
  dir: string;
  /** Absolute path of the kubectl binary built from the same module. */
  kubectl: string;
}

const readyTimeoutMs = 120_000;
const gracefulStopTimeoutMs = 60_000;
const logTailLines = 40;

/**
 * Returns a ready local control plane (kube-apiserver + etcd): the one already running on the
 * state directory, or a new one started detached, building the binaries first when needed.
 */
export async function ensureControlPlane(
  options: { log?: (line: string) => void } = {},
): Promise<ControlPlane> {
  const log = options.log ?? (() => undefined);
  const dir = stateDir();
  const files = stateFiles(dir);
  await mkdir(dir, { recursive: true });
  return withLock(files.ensureLock, log, async () => {
    const binaries = await ensureBinaries(log);
    const running = readPid(files.pid);
    if (running !== undefined && isControlPlane(running)) {
      if (executableOf(running) === binaries.controlplane) {
        const endpoint = await waitUntilReady(dir, () => (isControlPlane(running) ? undefined : 'it exited'));
        return { kubeconfig: files.kubeconfig, server: endpoint.server, dir, kubectl: binaries.kubectl };
      }
      log(`stopping the control plane (pid ${running}): it runs a build of other sources`);
      await stop(running);
    }

    const startedAt = performance.now();
    log(`starting the control plane (Kubernetes ${binaries.kubernetesVersion}) in ${dir}`);
    const exit = startDetached(binaries.controlplane, dir, files.log);
    const endpoint = await waitUntilReady(dir, exit);
    log(`control plane ready at ${endpoint.server} after ${elapsedSince(startedAt)}`);
    return { kubeconfig: files.kubeconfig, server: endpoint.server, dir, kubectl: binaries.kubectl };
  });
}

/** Stops the control plane of the state directory; false when none was running. */
export async function stopControlPlane(): Promise<boolean> {
  const dir = stateDir();
  const files = stateFiles(dir);
  await mkdir(dir, { recursive: true });
  return withLock(
    files.ensureLock,
    () => undefined,
    async () => {
      const pid = readPid(files.pid);
      if (pid === undefined || !isControlPlane(pid)) return false;
      await stop(pid);
      return true;
    },
  );
}

/** SIGTERM lets kube-apiserver shut down gracefully and etcd close its data. */
async function stop(pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  if (await waitForExit(pid, gracefulStopTimeoutMs)) return;
  process.kill(pid, 'SIGKILL');
  if (!(await waitForExit(pid, 10_000)))
    throw new Error(`control plane pid ${pid} did not exit after SIGKILL`);
}

/**
 * Starts keyward-controlplane in its own process group with its output in `logFile`, so it
 * outlives the caller. Returns a probe that tells why it exited, or undefined while it runs.
 */
function startDetached(binary: string, dir: string, logFile: string): () => string | undefined {
  const out = openSync(logFile, 'w');
  let exit: string | undefined;
  try {
    const child = spawn(binary, ['--dir', dir], { detached: true, stdio: ['ignore', out, out] });
    child.once('error', (error) => (exit = error.message));
    child.once('exit', (code, signal) => (exit = signal === null ? `exit code ${code}` : `signal ${signal}`));
    child.unref();
  } finally {
    closeSync(out);
  }
  return () => exit;
}

async function waitUntilReady(dir: string, exited: () => string | undefined): Promise<Endpoint> {
  const deadline = performance.now() + readyTimeoutMs;
  for (;;) {
    const reason = exited();
    if (reason !== undefined) {
      throw new Error(`the control plane stopped (${reason}) before it was ready\n${logTail(dir)}`);
    }
    const endpoint = readEndpoint(dir);
    if (endpoint !== undefined && (await isReady(endpoint))) return endpoint;
    if (performance.now() > deadline) {
      throw new Error(`the control plane was not ready after ${readyTimeoutMs / 1000} s\n${logTail(dir)}`);
    }
    await sleep(250);
  }
}

function logTail(dir: string): string {
  const logFile = stateFiles(dir).log;
  try {
    const lines = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-logTailLines);
    return `last lines of ${logFile}:\n${lines.join('\n')}`;
  } catch {
    return `(no log at ${logFile})`;
  }
}
