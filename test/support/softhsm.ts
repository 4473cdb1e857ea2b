// A real SoftHSM2 for tests: a temporary token directory with its own SOFTHSM2_CONF, tokens made with
// softhsm2-util, and an outside view of a token through OpenSC's pkcs11-tool (a separate process, so it sees what
// was really stored, not what our code believes it stored).
//
// SoftHSM reads SOFTHSM2_CONF and scans its tokens when the module is initialized, and a process initializes the
// module once while any backend uses it. So: one SoftHsm per test file, and tokens made before the first connect
// (or after every backend was closed).

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Algorithm, KeyUsage } from '../../src/backends/algorithms.ts';
import { recordTestSecret } from './test-secrets.ts';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/** Usages SoftHSM 2.6 allows for each algorithm, the widest the PKCS#11 tests generate with. */
export const SOFTHSM_USAGES: { readonly [A in Algorithm]: readonly KeyUsage[] } = {
  EC_P256: ['sign', 'verify'],
  EC_P384: ['sign', 'verify'],
  EC_P521: ['sign', 'verify'],
  ED25519: ['sign', 'verify'],
  RSA_2048: ['sign', 'verify'],
  RSA_3072: ['sign', 'verify', 'encrypt', 'decrypt'],
  RSA_4096: ['sign', 'verify', 'encrypt', 'decrypt', 'wrap', 'unwrap'],
  AES_256: ['encrypt', 'decrypt', 'wrap', 'unwrap'],
  HMAC_SHA256: ['sign', 'verify'],
};

export interface SoftHsmToken {
  readonly label: string;
  readonly pin: string;
  readonly soPin: string;
  /** The slot SoftHSM assigned when initializing the token. */
  readonly slotId: number;
}

/** One object as pkcs11-tool lists it. */
export interface ListedObject {
  /** `Private Key`, `Public Key` or `Secret Key`. */
  readonly kind: string;
  /** The rest of the header line, e.g. `EC`, `RSA 2048 bits`, `AES length 32`. */
  readonly type: string;
  readonly label: string;
  /** Lowercase hex. */
  readonly id: string;
  readonly usage: readonly string[];
  readonly access: readonly string[];
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): string {
  try {
    return execFileSync(command, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`${command} is not installed (apt-get install -y softhsm2 opensc)`, { cause: error });
    }
    throw error;
  }
}

export class SoftHsm {
  readonly dir: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #previousConf: string | undefined;

  private constructor(dir: string, confPath: string) {
    this.dir = dir;
    this.#previousConf = process.env.SOFTHSM2_CONF;
    process.env.SOFTHSM2_CONF = confPath;
    this.#env = { ...process.env, SOFTHSM2_CONF: confPath };
  }

  /** Makes the temp directory and its config and points this process (SOFTHSM2_CONF) at it. */
  static create(): SoftHsm {
    const dir = mkdtempSync(join(tmpdir(), 'keyward-softhsm-'));
    const tokens = join(dir, 'tokens');
    mkdirSync(tokens);
    const confPath = join(dir, 'softhsm2.conf');
    writeFileSync(
      confPath,
      `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`,
    );
    return new SoftHsm(dir, confPath);
  }

  /** Initializes a token in the next free slot, with random PINs unless given. */
  initToken(label: string, pin = `pin-${randomBytes(6).toString('hex')}`): SoftHsmToken {
    const soPin = `so-${randomBytes(6).toString('hex')}`;
    recordTestSecret(pin, `SoftHSM user PIN of ${label}`);
    recordTestSecret(soPin, `SoftHSM SO PIN of ${label}`);
    const output = run(
      'softhsm2-util',
      ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', soPin],
      this.#env,
    );
    const slot = /reassigned to slot (\d+)/.exec(output)?.[1];
    if (slot === undefined) throw new Error(`softhsm2-util did not report a slot: ${output}`);
    return { label, pin, soPin, slotId: Number(slot) };
  }

  /** Runs pkcs11-tool, in its own process, logged in to the token (encrypt, decrypt, wrap, ...); its output. */
  tool(token: SoftHsmToken, args: readonly string[]): string {
    return run(
      'pkcs11-tool',
      ['--module', SOFTHSM_MODULE, '--token-label', token.label, '--login', '--pin', token.pin, ...args],
      this.#env,
    );
  }

  /** The token's objects as pkcs11-tool, in its own process, lists them after logging in. */
  listObjects(token: SoftHsmToken): ListedObject[] {
    const output = run(
      'pkcs11-tool',
      [
        '--module',
        SOFTHSM_MODULE,
        '--token-label',
        token.label,
        '--login',
        '--pin',
        token.pin,
        '--list-objects',
      ],
      this.#env,
    );
    const objects: ListedObject[] = [];
    let current: { kind: string; type: string; fields: Map<string, string> } | undefined;
    const flush = (): void => {
      if (current === undefined) return;
      const list = (name: string): string[] =>
        (current?.fields.get(name) ?? '')
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item !== '' && item !== 'none');
      objects.push({
        kind: current.kind,
        type: current.type,
        label: current.fields.get('label') ?? '',
        id: (current.fields.get('ID') ?? '').toLowerCase(),
        usage: list('Usage'),
        access: list('Access'),
      });
    };
    for (const line of output.split('\n')) {
      const header = /^(Private Key|Public Key|Secret Key) Object; (.*)$/.exec(line);
      if (header !== null) {
        flush();
        current = { kind: header[1] ?? '', type: (header[2] ?? '').trim(), fields: new Map() };
        continue;
      }
      const field = /^\s+([A-Za-z ]+):\s*(.*)$/.exec(line);
      if (field !== null && current !== undefined)
        current.fields.set(field[1]?.trim() ?? '', field[2]?.trim() ?? '');
    }
    flush();
    return objects;
  }

  /** Removes the token directory and restores SOFTHSM2_CONF. */
  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
    if (this.#previousConf === undefined) delete process.env.SOFTHSM2_CONF;
    else process.env.SOFTHSM2_CONF = this.#previousConf;
  }
}
