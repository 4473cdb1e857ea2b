// openssl as a custodian runs it: keys made, signatures written and shares opened by the openssl command itself,
// in a temporary directory, so tests check Keyward against the standard tool rather than against itself.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordTestSecret } from './test-secrets.ts';

export type PersonKeyType = 'ec-p256' | 'ec-p384' | 'ed25519' | 'rsa';

const GENPKEY: Record<PersonKeyType, string[]> = {
  'ec-p256': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'ec-p384': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  ed25519: ['-algorithm', 'ED25519'],
  rsa: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
};

export class OpenSsl {
  readonly dir = mkdtempSync(join(tmpdir(), 'keyward-openssl-'));

  run(args: readonly string[], input?: string | Buffer): Buffer {
    return execFileSync('openssl', args, { cwd: this.dir, input, stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** Runs and returns stdout, or throws with openssl's stderr. */
  text(args: readonly string[], input?: string | Buffer): string {
    return this.run(args, input).toString('utf8');
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  write(name: string, content: string | Buffer): string {
    writeFileSync(this.path(name), content);
    return this.path(name);
  }

  read(name: string): Buffer {
    return readFileSync(this.path(name));
  }

  /** A person's key pair: `<name>.pem` (private) and the PEM public key returned. */
  keygen(name: string, type: PersonKeyType): string {
    this.run(['genpkey', ...GENPKEY[type], '-out', `${name}.pem`]);
    return this.text(['pkey', '-in', `${name}.pem`, '-pubout']);
  }

  /** What the docs tell a custodian to run: the signature over the digest string's UTF-8 bytes, base64. */
  sign(name: string, type: PersonKeyType, text: string, hash = 'sha256'): string {
    const file = this.write(`${name}.msg`, text);
    const signature =
      type === 'ed25519'
        ? this.run(['pkeyutl', '-sign', '-rawin', '-inkey', `${name}.pem`, '-in', file])
        : this.run(['dgst', `-${hash}`, '-sign', `${name}.pem`, file]);
    return signature.toString('base64');
  }

  /** `openssl cms -decrypt -inform PEM -inkey <name>.pem`. */
  decryptShare(name: string, cmsPem: string): Buffer {
    const file = this.write(`${name}.cms`, cmsPem);
    const share = this.run(['cms', '-decrypt', '-inform', 'PEM', '-in', file, '-inkey', `${name}.pem`]);
    recordTestSecret(share, `ceremony share opened by ${name}`);
    return share;
  }

  /** What the docs tell a custodian to run for an activation: the share re-encrypted to the ceremony's certificate. */
  reencryptShare(name: string, share: Buffer, recipientCertificate: string): string {
    const input = this.write(`${name}.share`, share);
    const certificate = this.write(`${name}.recipient.pem`, recipientCertificate);
    return this.text(['cms', '-encrypt', '-binary', '-aes256', '-in', input, '-outform', 'PEM', certificate]);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
