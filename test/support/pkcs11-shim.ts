// Misbehaving PKCS#11 modules for tests: SoftHSM2 with C_Initialize or C_OpenSession replaced by a function that
// never returns (or crashes), compiled with gcc from pkcs11-shim.c into a temporary directory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SOFTHSM_MODULE } from './softhsm.ts';

export type Misbehaviour = 'hang' | 'crash';

/** Builds the shim; returns the path of the .so. */
export function buildMisbehavingModule(
  fn: 'C_Initialize' | 'C_OpenSession',
  how: Misbehaviour = 'hang',
): string {
  const dir = mkdtempSync(join(tmpdir(), 'keyward-pkcs11-shim-'));
  const output = join(dir, `lib${how}-${fn}.so`);
  execFileSync(
    'gcc',
    [
      '-shared',
      '-fPIC',
      '-O1',
      '-I/usr/include/p11-kit-1',
      `-DMISBEHAVE=${fn}`,
      `-DREAL_MODULE="${SOFTHSM_MODULE}"`,
      ...(how === 'crash' ? ['-DCRASH'] : []),
      '-o',
      output,
      join(import.meta.dirname, 'pkcs11-shim.c'),
      '-ldl',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return output;
}

/** A shared library that loads but is no PKCS#11 module (no C_GetFunctionList). */
export function buildNotPkcs11Library(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keyward-not-pkcs11-'));
  const source = join(dir, 'not-pkcs11.c');
  writeFileSync(source, 'int keyward_not_a_pkcs11_module = 1;\n');
  const output = join(dir, 'libnot-pkcs11.so');
  execFileSync('gcc', ['-shared', '-fPIC', '-o', output, source], { stdio: ['ignore', 'ignore', 'pipe'] });
  return output;
}
