// Runs an Argo CD health check (docs/argocd/*.lua) in gopher-lua, the interpreter Argo CD embeds, against an object.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

import { REPO_ROOT } from '../support/kube.ts';

const run = promisify(execFile);

/** A Lua table constructor for a JSON value (arrays 1-based, null fields left out), in Lua 5.1 string syntax. */
export function luaLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'string') {
    // Lua 5.1 has no \u escapes: control characters become decimal \ddd; other characters pass through as UTF-8.
    // eslint-disable-next-line no-control-regex -- the control characters are what must be escaped
    const escaped = value.replace(/[\\"\u0000-\u001f]/g, (c) =>
      c === '\\' || c === '"' ? `\\${c}` : `\\${String(c.charCodeAt(0)).padStart(3, '0')}`,
    );
    return `"${escaped}"`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `{${value.map(luaLiteral).join(', ')}}`;
  const fields = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `[${luaLiteral(k)}] = ${luaLiteral(v)}`);
  return `{${fields.join(', ')}}`;
}

export interface Health {
  status: string;
  message: string;
}

export async function argoHealth(glua: string, check: string, object: unknown): Promise<Health> {
  const script = await readFile(path.join(REPO_ROOT, 'docs', 'argocd', `${check}.lua`), 'utf8');
  const program = [
    `local obj = ${luaLiteral(object)}`,
    'local function health()',
    script,
    'end',
    'local hs = health()',
    'print(hs.status)',
    'print(hs.message)',
  ].join('\n');
  const { stdout } = await run(glua, ['-e', program]);
  const [status = '', ...message] = stdout.trimEnd().split('\n');
  return { status, message: message.join('\n') };
}
