// Go-style duration strings ("15s", "1m30s", "500ms", "2160h"), the format every Kubernetes API and
// kubebuilder flag uses.

const unitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const component = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;

/** Parses a Go duration into milliseconds; throws on anything else. "0" is the only unitless value. */
export function parseDuration(text: string): number {
  if (text === '0') return 0;
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '') throw new Error(`invalid duration "${text}"`);
  let total = 0;
  component.lastIndex = 0;
  while (component.lastIndex < rest.length) {
    const match = component.exec(rest);
    if (!match) throw new Error(`invalid duration "${text}" (expected e.g. 30s, 1m30s, 500ms, 2h)`);
    total += Number(match[1]) * (unitMs[match[2] ?? ''] ?? Number.NaN);
  }
  return sign * total;
}
