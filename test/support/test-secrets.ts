// Every secret a test hands to Keyward or reads out of it (PINs, shares, activation secrets, KEKs, cloud
// credentials) is recorded here, so that scripts/leak-scan.ts can search everything the suite left behind for it:
// the API server's objects, etcd, the operators' logs and metrics. Call recordTestSecret wherever a test makes or
// learns one. The file lives in the test control plane's state directory, readable by its owner only.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { stateDir } from '../../scripts/testenv/paths.ts';

export const TEST_SECRETS_FILE = 'test-secrets.jsonl';

/** The forms a secret may take where it leaks: as given, hex, base64 (and base64url) of its bytes. */
export function secretForms(value: string | Uint8Array): string[] {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  const forms = new Set([
    bytes.toString('hex'),
    bytes.toString('base64'),
    bytes.toString('base64url'),
    ...(typeof value === 'string' ? [value] : []),
  ]);
  // Short forms would match by chance; every secret the tests make is longer.
  return [...forms].filter((form) => form.length >= 8);
}

/** Records a secret the tests used, under a label that says what it is (never the value). */
export function recordTestSecret(value: string | Uint8Array, label: string): void {
  const forms = secretForms(value);
  if (forms.length === 0) return;
  const dir = stateDir();
  mkdirSync(dir, { recursive: true });
  appendFileSync(join(dir, TEST_SECRETS_FILE), `${JSON.stringify({ label, forms })}\n`, { mode: 0o600 });
}

/** Where the operators the tests run leave their logs and metrics, for the leak scan. */
export const CAPTURE_DIR = 'captured';

/** A file for one operator's captured output, `<what>-<pid>-<n>.<ext>` in the state directory's capture folder. */
export function captureFile(what: string, ext: string): string {
  const dir = join(stateDir(), CAPTURE_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  captures += 1;
  return join(dir, `${what}-${String(process.pid)}-${String(captures)}.${ext}`);
}
let captures = 0;
