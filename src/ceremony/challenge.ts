// What custodians sign: a digest of the ceremony's uid and its spec, so that an approval is bound to this one
// ceremony (another ceremony, even with an identical spec, has another uid) and to exactly what was approved.
import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted at every level and no whitespace: what `jq -cS .spec` prints for the specs
 * Keyward stores (strings, integers, booleans, arrays and objects), so a custodian can recompute it.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** `sha256:<hex>` of "<uid>\n<canonical spec>" (UTF-8). */
export function ceremonyChallenge(uid: string, spec: unknown): string {
  return `sha256:${createHash('sha256')
    .update(`${uid}\n${canonicalJson(spec)}`, 'utf8')
    .digest('hex')}`;
}
