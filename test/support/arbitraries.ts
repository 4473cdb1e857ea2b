// fast-check arbitraries read off the TypeBox schemas in src/api, so that generated objects follow the API as it
// changes: each field mostly inside its schema (type, enum, pattern, lengths, bounds; Go durations where a CEL rule
// asks for one), and now and then just outside it (one character too long, one past the bound, the wrong type,
// odd unicode), which admission must refuse with a message.
import fc from 'fast-check';
import { parseDuration } from '../../src/runtime/duration.ts';

interface Node {
  type?: string;
  enum?: readonly unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  items?: Node;
  properties?: Record<string, Node>;
  required?: readonly string[];
  additionalProperties?: Node | boolean;
  default?: unknown;
  'x-kubernetes-validations'?: readonly { rule: string }[];
}

/** Characters that break naive string handling: bidi controls, NUL, combining marks, emoji, a lone surrogate. */
export const ODD_CHARACTERS = [
  '\u200f', // right-to-left mark
  '\u202e', // right-to-left override
  '\u0000',
  '\u0301', // combining acute accent
  '\u0489', // combining cyrillic millions sign
  '\ufeff', // byte order mark
  '\u{1f511}', // key emoji
  '\u{1f469}\u200d\u{1f52c}', // a ZWJ sequence
  '\ud800', // lone high surrogate
  '\u2028', // line separator
  '\\',
  '"',
  "'",
  '\n',
] as const;

export const oddString = (maxLength = 40): fc.Arbitrary<string> =>
  fc.string({
    unit: fc.oneof(
      fc.constantFrom(...ODD_CHARACTERS),
      fc.constant('a'),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
    ),
    maxLength,
  });

export interface ArbitraryOptions {
  /** Weight of a value just outside the schema against 100 inside it, at every field. Default 3. */
  outside?: number;
  /** Values to use for named fields instead of the schema's (e.g. a backendRef the test set up). */
  overrides?: Record<string, fc.Arbitrary<unknown>>;
}

const DURATION_UNITS = ['s', 'm', 'h', 'ms'] as const;
const anyDuration = fc
  .tuple(fc.integer({ min: 0, max: 300_000 }), fc.constantFrom(...DURATION_UNITS))
  .map(([n, unit]) => `${String(n)}${unit}`);

/** A Go duration within the bounds the node's CEL rules set (duration(self) >= / <= duration('...')), or any. */
function duration(node: Node): fc.Arbitrary<string> {
  const bound = (op: string): number | undefined => {
    for (const { rule } of node['x-kubernetes-validations'] ?? []) {
      const found = new RegExp(`duration\\(self\\) ${op} duration\\('([^']+)'\\)`).exec(rule)?.[1];
      if (found !== undefined) return parseDuration(found) / 1000;
    }
    return undefined;
  };
  const min = bound('>=') ?? 1;
  const max = bound('<=') ?? Math.max(min * 4, 86_400 * 400);
  const seconds = fc.integer({ min: Math.ceil(min), max: Math.floor(max) });
  return fc.oneof(
    { weight: 3, arbitrary: seconds.map((n) => `${String(n)}s`) },
    { weight: 2, arbitrary: seconds.map((n) => `${String(Math.ceil(n / 3600))}h`) },
    { weight: 1, arbitrary: anyDuration },
  );
}

const wrongType = fc.constantFrom<unknown>(null, true, 0, -1, 1.5, '', 'x', [], {}, [null]);

function wantsDuration(node: Node): boolean {
  return (node['x-kubernetes-validations'] ?? []).some((r) => r.rule.includes('duration('));
}

function inside(node: Node, options: ArbitraryOptions, field: string): fc.Arbitrary<unknown> {
  const override = options.overrides?.[field];
  if (override) return override;
  if (node.enum) return fc.constantFrom(...node.enum);
  switch (node.type) {
    case 'string': {
      if (wantsDuration(node)) return duration(node);
      const minLength = node.minLength ?? 0;
      const maxLength = Math.min(node.maxLength ?? 80, 200);
      if (node.pattern !== undefined) {
        return fc
          .stringMatching(new RegExp(node.pattern))
          .filter((s) => s.length >= minLength && s.length <= (node.maxLength ?? Infinity));
      }
      return fc.oneof(
        fc.string({ minLength, maxLength }),
        oddString(maxLength).filter((s) => s.length >= minLength && s.length <= maxLength),
      );
    }
    case 'integer':
      return fc.integer({ min: node.minimum ?? -1000, max: node.maximum ?? 100_000 });
    case 'number':
      return fc.double({ min: node.minimum ?? -1e6, max: node.maximum ?? 1e6, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'array': {
      const items = arbitraryOf(node.items ?? {}, options, `${field}[]`);
      return fc.array(items, { minLength: node.minItems ?? 0, maxLength: Math.min(node.maxItems ?? 4, 4) });
    }
    case 'object': {
      if (node.properties === undefined) {
        const values = typeof node.additionalProperties === 'object' ? node.additionalProperties : {};
        return fc.dictionary(
          fc.string({ minLength: 1, maxLength: 20 }),
          arbitraryOf(values, options, field),
          {
            maxKeys: 3,
          },
        );
      }
      const required = new Set(node.required ?? []);
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      const requiredKeys: string[] = [];
      for (const [key, child] of Object.entries(node.properties)) {
        const path = field === '' ? key : `${field}.${key}`;
        record[key] = arbitraryOf(child, options, path);
        // A field with a default may be left out: the API server fills it in.
        if (required.has(key) && child.default === undefined) requiredKeys.push(key);
      }
      return fc.record(record, { requiredKeys });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function outside(node: Node): fc.Arbitrary<unknown> {
  const near: fc.Arbitrary<unknown>[] = [wrongType];
  if (node.type === 'string' || node.enum) {
    near.push(oddString());
    if (node.maxLength !== undefined) {
      const max = node.maxLength;
      near.push(fc.integer({ min: max + 1, max: max + 64 }).map((n) => 'a'.repeat(n)));
    }
    if (node.minLength !== undefined && node.minLength > 0) near.push(fc.constant(''));
    if (node.pattern !== undefined) near.push(fc.string({ maxLength: 20 }));
  }
  if (node.type === 'integer') {
    if (node.minimum !== undefined) near.push(fc.constant(node.minimum - 1));
    if (node.maximum !== undefined) near.push(fc.constant(node.maximum + 1));
    near.push(fc.constantFrom(2 ** 53, -(2 ** 63), 0.5));
  }
  if (node.type === 'array' && node.maxItems !== undefined) {
    near.push(fc.constant(Array.from({ length: node.maxItems + 1 }, () => ({}))));
  }
  return fc.oneof(...near);
}

/** An arbitrary for values of a TypeBox schema (a JSON schema), mostly valid and sometimes just outside. */
export function arbitraryOf(
  schema: object,
  options: ArbitraryOptions = {},
  field = '',
): fc.Arbitrary<unknown> {
  const node = schema as Node;
  const weight = options.outside ?? 3;
  if (options.overrides?.[field] || weight === 0) return inside(node, options, field);
  return fc.oneof(
    { weight: 100, arbitrary: inside(node, options, field) },
    { weight, arbitrary: outside(node) },
  );
}

/** The seed a property run uses: KEYWARD_FUZZ_SEED to replay one, else a fresh one (print it). */
export function fuzzSeed(): number {
  const given = process.env.KEYWARD_FUZZ_SEED;
  return given ? Number(given) : Math.floor(Math.random() * 2 ** 31);
}
