// Schema building blocks shared by every Keyward API version.
//
// Each kind's TypeBox schema is the single source of truth: the static TypeScript type (Static<>), runtime validation
// (validate()) and the CustomResourceDefinition YAML (crd.ts) all derive from it. Only keywords that a Kubernetes
// structural schema accepts are emitted, so the generated CRD needs no post-processing.
import Type from 'typebox';
import type { TSchema, TUnsafe } from 'typebox';
import { Value } from 'typebox/value';

/** A CEL rule as Kubernetes runs it at admission (x-kubernetes-validations). */
export interface CelRule {
  rule: string;
  message: string;
  /** JSON path reported as the field in error, relative to the node carrying the rule. */
  fieldPath?: string;
}

export interface Doc {
  description: string;
  rules?: readonly CelRule[];
}

/** Options that every schema node carries: a doc string (kubectl explain shows it) and optional CEL rules. */
export function docOptions({ description, rules = [] }: Doc): Record<string, unknown> {
  return { description, ...celRules(...rules) };
}

/** The x-kubernetes-validations keyword for a node, or nothing when there are no rules. */
export function celRules(...rules: readonly CelRule[]): Record<string, unknown> {
  return rules.length > 0 ? { 'x-kubernetes-validations': rules.map((r) => ({ ...r })) } : {};
}

/** A string restricted to a fixed set of values, emitted as a plain `enum` (structural schemas reject anyOf/const). */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  doc: Doc & { default?: T[number] },
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({
    type: 'string',
    enum: [...values],
    ...(doc.default === undefined ? {} : { default: doc.default }),
    ...docOptions(doc),
  });
}

/** Go's time.ParseDuration syntax, which is also what CEL's duration() accepts. */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$';

/**
 * A Go-style duration string such as `2160h` or `30m`, optionally bounded below and above. The format is a CEL rule
 * rather than a `pattern`, so that a bad value gets a plain message, and the bounds are only checked on a value in
 * that format (CEL's duration() would fail with a type conversion error on anything else).
 */
export function Duration(
  doc: Doc & { min?: string; max?: string; minMessage?: string; maxMessage?: string; default?: string },
) {
  const wellFormed = `self.matches(r'${DURATION_PATTERN}')`;
  const rules: CelRule[] = [
    {
      rule: wellFormed,
      message: 'must be a duration such as 90m, 36h or 2160h (units: ns, us, ms, s, m, h)',
    },
    ...(doc.rules ?? []),
  ];
  if (doc.min !== undefined) {
    rules.push({
      rule: `!${wellFormed} || duration(self) >= duration('${doc.min}')`,
      message: doc.minMessage ?? `must be at least ${doc.min}`,
    });
  }
  if (doc.max !== undefined) {
    rules.push({
      rule: `!${wellFormed} || duration(self) <= duration('${doc.max}')`,
      message: doc.maxMessage ?? `must be at most ${doc.max}`,
    });
  }
  return Type.String({
    maxLength: 64,
    ...(doc.default === undefined ? {} : { default: doc.default }),
    ...docOptions({ description: doc.description, rules }),
  });
}

/** An RFC 3339 timestamp, as metav1.Time serialises. */
export function Timestamp(description: string) {
  return Type.String({ format: 'date-time', description });
}

/** A Kubernetes object name (DNS-1123 subdomain). */
export function ObjectName(description: string) {
  return Type.String({
    description,
    minLength: 1,
    maxLength: 253,
    pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
  });
}

/** A reference to an object by name, in the same namespace (or cluster-scoped). */
export function LocalObjectReference(description: string) {
  return Type.Object({ name: ObjectName('Name of the referenced object.') }, { description });
}

/** A key of a Secret in a given namespace; the operator reads the value and never copies it anywhere. */
export function SecretKeySelector(description: string) {
  return Type.Object(
    {
      namespace: ObjectName('Namespace of the Secret.'),
      name: ObjectName('Name of the Secret.'),
      key: Type.String({
        description: 'Key within the Secret whose value is used.',
        minLength: 1,
        maxLength: 253,
        pattern: '^[-._a-zA-Z0-9]+$',
      }),
    },
    { description },
  );
}

/** A PEM-encoded SubjectPublicKeyInfo. */
export function PublicKeyPem(description: string) {
  return Type.String({
    description,
    minLength: 1,
    maxLength: 16384,
    pattern: '^-----BEGIN PUBLIC KEY-----',
  });
}

/** A person who takes part in a quorum: a custodian or a witness, known by name and their own public key. */
export const Participant = Type.Object(
  {
    name: Type.String({
      description: 'Name of the person, unique within the list.',
      minLength: 1,
      maxLength: 63,
      pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
    }),
    publicKey: PublicKeyPem(
      "PEM SubjectPublicKeyInfo of the person's own key pair (EC P-256/P-384, Ed25519 or RSA). Signatures and shares are checked or encrypted with it; the operator never sees the private key.",
    ),
  },
  { description: 'A person taking part in a quorum.' },
);

/** The CEL rule that makes a list of named items distinct, with a plain message. */
export function distinctNames(what: string): CelRule {
  return {
    rule: 'self.all(a, self.exists_one(b, b.name == a.name))',
    message: `${what} names must be distinct: each person may appear only once`,
  };
}

/** A rule that makes the node it sits on immutable once set. */
export function immutable(what: string): CelRule {
  return { rule: 'self == oldSelf', message: `${what} is immutable once set` };
}

/** A metav1.Condition (https://pkg.go.dev/k8s.io/apimachinery/pkg/apis/meta/v1#Condition). */
export const Condition = Type.Object(
  {
    type: Type.String({
      description: 'Type of the condition, in CamelCase (Ready, BackendReady, ...).',
      maxLength: 316,
      pattern:
        '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    }),
    status: StringEnum(['True', 'False', 'Unknown'] as const, { description: 'Status of the condition.' }),
    observedGeneration: Type.Optional(
      Type.Integer({
        description: 'The .metadata.generation that the condition was set from.',
        minimum: 0,
      }),
    ),
    lastTransitionTime: Timestamp('Last time the condition changed from one status to another.'),
    reason: Type.String({
      description: "A programmatic identifier, in CamelCase, for the condition's last transition.",
      minLength: 1,
      maxLength: 1024,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    }),
    message: Type.String({ description: 'A human readable message about the transition.', maxLength: 32768 }),
  },
  { description: 'A condition of the object, following metav1.Condition.' },
);

export function Conditions() {
  return Type.Array(Condition, {
    description: 'The latest available observations of the object.',
    maxItems: 16,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  });
}

/** A map of strings (structural schemas take additionalProperties, not patternProperties). */
export function StringMap(description: string): TUnsafe<Record<string, string>> {
  return Type.Unsafe<Record<string, string>>({
    type: 'object',
    additionalProperties: { type: 'string' },
    description,
  });
}

/** metav1.LabelSelector. */
export const LabelSelector = Type.Object(
  {
    matchLabels: Type.Optional(StringMap('Labels that must all be present with these values.')),
    matchExpressions: Type.Optional(
      Type.Array(
        Type.Object(
          {
            key: Type.String({ description: 'The label key that the selector applies to.' }),
            operator: StringEnum(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const, {
              description: 'How the key relates to the values.',
            }),
            values: Type.Optional(
              Type.Array(Type.String({ description: 'A label value.' }), {
                description: 'Values for In and NotIn; empty for Exists and DoesNotExist.',
              }),
            ),
          },
          { description: 'A label selector requirement.' },
        ),
        { description: 'Requirements that must all hold.' },
      ),
    ),
  },
  {
    description: 'A label selector; an empty selector matches everything.',
    'x-kubernetes-map-type': 'atomic',
  },
);

/** One violation found by validate(): where, and what is wrong in plain words. */
export interface Violation {
  path: string;
  message: string;
}

/**
 * Validates a value against a schema as the API server would see it: defaults applied first, then structure and
 * keywords. CEL rules are left to the API server.
 */
export function validate(schema: TSchema, value: unknown): Violation[] {
  const defaulted = Value.Default(schema, structuredClone(value));
  return Value.Errors(schema, defaulted).map((e) => ({ path: e.instancePath || '/', message: e.message }));
}
