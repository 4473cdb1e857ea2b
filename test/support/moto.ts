// moto in server mode, the test peer for AWS KMS and the CloudHSM v2 API: installed once into a virtualenv under
// ~/.cache/keyward/moto (pip from PyPI; about 45 s cold, nothing warm), started per test file on a loopback port
// the OS picks, stopped in `after`. moto-server.py beside this file starts it and says what it changes about moto.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { recordTestSecret } from './test-secrets.ts';

/** Pinned exactly: moto-server.py patches two of its KMS internals. */
export const MOTO_VERSION = '5.2.5';

/** An AWS shared credentials file moto accepts (moto does not check credentials). Never real ones. */
export const MOTO_CREDENTIALS_FILE = Buffer.from(
  '[default]\naws_access_key_id = AKIAKEYWARDTESTONLY00\naws_secret_access_key = keyward-test-secret-not-a-real-one\n',
);
export const MOTO_ACCESS_KEY_ID = 'AKIAKEYWARDTESTONLY00';
export const MOTO_SECRET_ACCESS_KEY = 'keyward-test-secret-not-a-real-one';
recordTestSecret(MOTO_SECRET_ACCESS_KEY, 'moto AWS secret access key');

export interface Moto {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  stop(): Promise<void>;
}

const run = promisify(execFile);

function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'keyward', 'moto');
}

/** The virtualenv's python, installing moto first when the cache has no install of MOTO_VERSION. */
export async function ensureMoto(log: (line: string) => void = () => {}): Promise<string> {
  const dir = join(cacheDir(), `moto-${MOTO_VERSION}`);
  const python = join(dir, 'bin', 'python');
  if (existsSync(python)) return python;
  // Install next to the final place and rename, so an interrupted install never looks complete. Two test files
  // installing at once each build their own and the second rename loses harmlessly.
  const partial = `${dir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(cacheDir(), { recursive: true });
  const started = Date.now();
  log(`installing moto ${MOTO_VERSION} into ${dir}`);
  try {
    await run('python3', ['-m', 'venv', partial]);
    await run(
      join(partial, 'bin', 'pip'),
      ['install', '--quiet', '--disable-pip-version-check', `moto[server]==${MOTO_VERSION}`],
      {
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    // A virtualenv records its own path in its scripts; python itself (used below) runs from anywhere.
    await rename(partial, dir).catch((error: unknown) => {
      if (!existsSync(python)) throw error;
    });
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  log(`installed moto ${MOTO_VERSION} in ${Math.round((Date.now() - started) / 1000)}s`);
  return python;
}

/** Starts moto on a free loopback port; resolves once it listens. */
export async function startMoto(): Promise<Moto> {
  const python = await ensureMoto((line) => {
    process.stderr.write(`${line}\n`);
  });
  const child: ChildProcess = spawn(python, [join(import.meta.dirname, 'moto-server.py')], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => {
      reject(new Error(`moto did not start within 30s: ${stderr}`));
    }, 30_000);
    lines.on('line', (line) => {
      const match = /^port (\d+)$/.exec(line);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`moto exited with ${code}: ${stderr}`));
    });
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
