// zlint, the certificate linter of the CA/Browser Forum world, built once from its Go module through the Go module
// proxy and cached under ~/.cache/keyward/zlint (as the control plane is), so the tests lint every certificate a
// ceremony makes.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ZLINT_VERSION = 'v3.7.3';
const MODULE = `github.com/zmap/zlint/v3/cmd/zlint@${ZLINT_VERSION}`;

function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'keyward', 'zlint', ZLINT_VERSION);
}

/** The zlint binary, built first if the cache has none (a cold build takes a minute or two). */
export async function ensureZlint(): Promise<string> {
  const binary = join(cacheDir(), 'zlint');
  if (existsSync(binary)) return binary;
  const partial = `${cacheDir()}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  try {
    await run('go', ['install', MODULE], {
      env: { ...process.env, GOBIN: partial, CGO_ENABLED: '0', GOFLAGS: '-mod=mod' },
      timeout: 900_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    await rm(cacheDir(), { recursive: true, force: true });
    await rename(partial, cacheDir());
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return binary;
}

export interface LintFinding {
  readonly lint: string;
  readonly result: string;
  readonly details?: string;
}

/** Every finding of level error or fatal (warnings and notices are returned too, apart). */
export async function zlint(pem: string): Promise<{ errors: LintFinding[]; warnings: LintFinding[] }> {
  const binary = await ensureZlint();
  const file = join(tmpdir(), `keyward-zlint-${process.pid}-${Date.now()}.pem`);
  await writeFile(file, pem);
  try {
    const { stdout } = await run(binary, ['-format', 'pem', file], { timeout: 60_000 });
    const results = JSON.parse(stdout) as Record<string, { result: string; details?: string }>;
    const findings = Object.entries(results).map(([lint, r]) => ({ lint, ...r }));
    return {
      errors: findings.filter((f) => f.result === 'error' || f.result === 'fatal'),
      warnings: findings.filter((f) => f.result === 'warn'),
    };
  } finally {
    await rm(file, { force: true });
  }
}
