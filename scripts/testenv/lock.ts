import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

// An owner gets this long to write its pid after creating the lock directory.
const ownerGraceMs = 5_000;

/**
 * Runs `fn` while holding a lock directory, so concurrent callers (test files, a developer's
 * `testenv:up`) never build or start the control plane twice. A lock whose owner died is taken over.
 */
export async function withLock<T>(
  lockDir: string,
  log: (line: string) => void,
  fn: () => Promise<T>,
): Promise<T> {
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = lockOwner(lockDir);
    if (owner === 'gone') {
      rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (!announced) {
      log(`waiting for process ${owner} that is building or starting the control plane`);
      announced = true;
    }
    await sleep(250);
  }
  try {
    writeFileSync(join(lockDir, 'owner'), String(process.pid));
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

function lockOwner(lockDir: string): number | 'unknown' | 'gone' {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(join(lockDir, 'owner'), 'utf8'), 10);
  } catch {
    try {
      return Date.now() - statSync(lockDir).mtimeMs > ownerGraceMs ? 'gone' : 'unknown';
    } catch {
      return 'unknown'; // released meanwhile; the next mkdir decides
    }
  }
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return 'gone';
  }
}
