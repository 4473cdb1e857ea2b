import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const binaryName = 'keyward-controlplane';
const hasProcfs = existsSync('/proc/self');

/** The pid a keyward-controlplane wrote into its state directory, if any. */
export function readPid(pidFile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(pidFile, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when `pid` is a live keyward-controlplane. Where /proc exists the command line is checked
 * too, so a recycled pid or an exited child that is not yet reaped (a zombie) does not count.
 */
export function isControlPlane(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (!hasProcfs) return true;
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    return basename(argv0) === binaryName;
  } catch {
    return false;
  }
}

/** The executable a process runs, where /proc tells it. */
export function executableOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

/** Waits until `pid` is no longer a live keyward-controlplane; false on timeout. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (isControlPlane(pid)) {
    if (performance.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}
