// The metric names a PromQL expression reads: every identifier that is not a function (followed by "("), a
// keyword, a label name (in {...}, by (...), without (...), on (...), ignoring (...)) or a duration ([5m]).
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
]);

export function metricNames(expr: string): Set<string> {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(?=\s*(\()?)/g)) {
    const [name, call] = [match[0], match[1]];
    if (call || KEYWORDS.has(name) || /^\d/.test(name)) continue;
    names.add(name);
  }
  return names;
}

/** The metric families an exposition declares (# TYPE lines), with each histogram's _bucket, _sum and _count. */
export function exportedFamilies(exposition: string): Set<string> {
  const families = new Set<string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (name === undefined) continue;
    families.add(name);
    if (type === 'histogram' || type === 'summary') {
      for (const suffix of ['_bucket', '_sum', '_count']) families.add(`${name}${suffix}`);
    }
  }
  return families;
}
