import Type from 'typebox';
import type { Static } from 'typebox';
import {
  Conditions,
  Duration,
  LocalObjectReference,
  ObjectName,
  Participant,
  StringEnum,
  Timestamp,
  celRules,
  distinctNames,
  docOptions,
  immutable,
} from '../schema.ts';
import type { CelRule } from '../schema.ts';
import { ALGORITHMS, KEY_USAGES, usageRules } from '../algorithms.ts';
import { defineResource } from '../resource.ts';
import { ARCHIVAL_ENFORCEMENTS } from './keybackend.ts';
import type { ObjectOf } from '../resource.ts';

export const DELETION_POLICIES = ['Retain', 'Disable', 'Destroy'] as const;
export const KEY_PHASES = [
  'Pending',
  'Generating',
  'Active',
  'Rotating',
  'Disabled',
  'PendingDestruction',
  'Destroyed',
  'Failed',
] as const;
/** In lifecycle order: a version only moves forward, except Disabled back to Archived when retention grows. */
export const VERSION_STATES = [
  'Generating',
  'Active',
  'Archived',
  'Disabled',
  'PendingDestruction',
  'Destroyed',
] as const;

export const MAX_RETAIN_VERSIONS = 100;
/** Versions a status records over a key's life (destroyed ones included); at daily rotation, about three years. */
export const MAX_RECORDED_VERSIONS = 1000;

/** A CEL map from version state to its place in the lifecycle. */
const VERSION_RANK = `{${VERSION_STATES.map((state, rank) => `'${state}': ${String(rank)}`).join(', ')}}`;

const MaintenanceWindow = Type.Object(
  {
    cron: Type.String({
      description:
        'Start of the window as a five-field cron expression (minute hour day-of-month month day-of-week), e.g. "0 2 * * 1-5".',
      maxLength: 128,
      // What a rule can tell without evaluating the expression: its shape, and days that no month named has. The
      // controller reports any other window that never opens (Rotating=False, WindowNeverOpens).
      ...celRules(
        {
          rule: "self.matches(r'^\\s*\\S+(\\s+\\S+){4}\\s*$')",
          message:
            'must be a five-field cron expression: minute hour day-of-month month day-of-week, e.g. "0 2 * * 1-5"',
        },
        {
          rule: "!self.matches(r'^\\s*\\S+\\s+\\S+\\s+(30|31)\\s+(2|[Ff][Ee][Bb])\\s+\\*\\s*$')",
          message: 'this window never opens: February has no day 30 or 31',
        },
        {
          rule: "!self.matches(r'^\\s*\\S+\\s+\\S+\\s+31\\s+(4|6|9|11|[Aa][Pp][Rr]|[Jj][Uu][Nn]|[Ss][Ee][Pp]|[Nn][Oo][Vv])\\s+\\*\\s*$')",
          message: 'this window never opens: April, June, September and November have no day 31',
        },
      ),
    }),
    duration: Duration({
      description: 'How long the window stays open after each start.',
      min: '1m',
      minMessage: 'a window must stay open at least 1m',
      max: '168h',
      maxMessage: 'a window may stay open at most 168h (one week)',
    }),
    timeZone: Type.String({
      description: 'IANA time zone the cron expression is read in, e.g. Europe/Berlin. Default: UTC.',
      maxLength: 64,
      default: 'UTC',
    }),
  },
  { description: 'A recurring time window in which scheduled rotations may start.' },
);

const Rotation = Type.Object(
  {
    period: Duration({
      description:
        'Cryptoperiod: the key rotates this long after its current version was created, e.g. 2160h (90 days).',
      min: '1h',
      minMessage: 'rotation.period must be at least 1h',
    }),
    windows: Type.Optional(
      Type.Array(MaintenanceWindow, {
        description:
          'Maintenance windows. When set, a due rotation waits for the next window to open; empty or absent: any time.',
        maxItems: 16,
      }),
    ),
    trigger: Type.Optional(
      Type.String({
        description:
          'Any new value rotates the key exactly once. Commit a new value (e.g. "2026-11") to rotate from Git.',
        maxLength: 253,
      }),
    ),
    retainVersions: Type.Integer({
      description: 'How many archived versions stay usable for verify and decrypt after a rotation.',
      minimum: 0,
      maximum: MAX_RETAIN_VERSIONS,
      default: 2,
    }),
    destroyArchivedAfter: Type.Optional(
      Duration({
        description:
          'Destroy an archived version this long after it was archived (never earlier than destroyAfter). Absent: archived versions beyond retainVersions are disabled, not destroyed.',
        min: '24h',
        minMessage: 'rotation.destroyArchivedAfter must be at least 24h',
      }),
    ),
  },
  { description: 'When and how the key rotates. Absent: the key never rotates on its own.' },
);

const Protection = Type.Object(
  {
    minFipsLevel: Type.Optional(
      Type.Integer({
        description:
          'Lowest FIPS 140 level the backend must be validated to. A backend below it is refused and nothing is generated.',
        minimum: 1,
        maximum: 4,
      }),
    ),
    exportable: Type.Boolean({
      description:
        'Whether the private or secret key may ever leave the backend (wrapped). Never true for signing keys. Immutable.',
      default: false,
      ...celRules(immutable('protection.exportable')),
    }),
  },
  { description: 'How the key is protected.', default: {} },
);

const Distribution = Type.Object(
  {
    publicKey: Type.Optional(
      Type.Object(
        {
          configMapName: ObjectName(
            'ConfigMap in the same namespace that receives the usable public keys (current and archived) as PEM and JWKS.',
          ),
        },
        { description: 'Where the public keys are published.' },
      ),
    ),
  },
  { description: 'How the public parts of the key are distributed.' },
);

const Recovery = Type.Object(
  {
    threshold: Type.Integer({
      description:
        "How many custodians (M of N) must take part to recover the key. At least 2: one custodian's share and the wrapped copy in the cluster would otherwise be the whole key.",
      minimum: 2,
    }),
    custodians: Type.Array(Participant, {
      description:
        "The custodians (N). Each receives one share of each version's key-encryption key, encrypted to their own public key (EC P-256, EC P-384 or RSA).",
      minItems: 2,
      maxItems: 16,
      ...celRules(distinctNames('custodian')),
    }),
  },
  docOptions({
    description:
      'M-of-N recovery: each version is wrapped once inside the backend under a fresh key-encryption key, whose shares go to the custodians; the wrapped copy is kept in a ConfigMap. AES_256 keys only (never signing keys). Can be set only when the ManagedKey is created.',
    rules: [
      {
        rule: 'self.threshold <= size(self.custodians)',
        message: 'recovery.threshold cannot be larger than the number of custodians',
      },
    ],
  }),
);

const specRules: CelRule[] = [
  ...usageRules(),
  {
    rule: "!self.protection.exportable || !self.usages.exists(u, u == 'sign')",
    message:
      'a signing key cannot be exportable: remove the sign usage or set protection.exportable to false',
  },
  {
    rule: "!has(self.recovery) || (self.usages.exists(u, u in ['encrypt', 'wrap']) && !self.usages.exists(u, u == 'sign'))",
    message:
      'recovery is only for encryption and wrapping keys: a key with recovery needs the encrypt or wrap usage and must not sign',
  },
  {
    rule: '!has(self.destroyRequiresCeremony) || !self.destroyRequiresCeremony || !has(self.rotation) || !has(self.rotation.destroyArchivedAfter)',
    message:
      'destroyRequiresCeremony and rotation.destroyArchivedAfter do not go together: archived versions would be destroyed without a ceremony',
  },
  {
    rule: "!has(self.recovery) || self.algorithm == 'AES_256'",
    message: 'recovery is for AES_256 keys: only a secret key is wrapped for recovery',
  },
];

export const ManagedKeySpec = Type.Object(
  {
    backendRef: LocalObjectReference('The KeyBackend (cluster-scoped) the key lives in. Immutable.'),
    algorithm: StringEnum(ALGORITHMS, {
      description: 'Key algorithm. Immutable: create a new ManagedKey to change it.',
      rules: [immutable('algorithm')],
    }),
    usages: Type.Array(StringEnum(KEY_USAGES, { description: 'A usage.' }), {
      description: 'What the key may be used for: sign, verify, encrypt, decrypt, wrap, unwrap. Immutable.',
      minItems: 1,
      maxItems: KEY_USAGES.length,
      'x-kubernetes-list-type': 'set',
      ...celRules(immutable('usages')),
    }),
    protection: Protection,
    rotation: Type.Optional(Rotation),
    distribution: Type.Optional(Distribution),
    recovery: Type.Optional(Recovery),
    deletionPolicy: StringEnum(DELETION_POLICIES, {
      description:
        'What happens to the key in the backend when the ManagedKey is deleted: Retain leaves it, Disable clears its use flags, Destroy destroys it after destroyAfter.',
      default: 'Retain',
    }),
    destroyAfter: Duration({
      description: 'How long a key waits in PendingDestruction before Destroy really destroys it.',
      min: '24h',
      minMessage: 'destroyAfter must be at least 24h',
      default: '720h',
    }),
    destroyRequiresCeremony: Type.Optional(
      Type.Boolean({
        description:
          'Destroying the key needs a KeyDestruction ceremony (M-of-N custodian approvals): deletionPolicy Destroy disables every version and then waits for one, instead of destroying after destroyAfter. Cannot be turned off once on.',
        default: false,
      }),
    ),
  },
  docOptions({
    description: 'Desired state of the ManagedKey.',
    rules: [
      ...specRules,
      { rule: 'self.backendRef == oldSelf.backendRef', message: 'backendRef is immutable once set' },
      {
        rule: '!has(oldSelf.destroyRequiresCeremony) || !oldSelf.destroyRequiresCeremony || (has(self.destroyRequiresCeremony) && self.destroyRequiresCeremony)',
        message:
          'destroyRequiresCeremony cannot be turned off once on: that would let one person destroy what a quorum guards',
      },
      {
        rule: 'has(self.recovery) == has(oldSelf.recovery)',
        message:
          'spec.recovery can only be set when the ManagedKey is created, and not removed: a version generated without it can never be wrapped, and one generated with it keeps its backup',
      },
    ],
  }),
);

const KeyVersion = Type.Object(
  {
    version: Type.Integer({ description: 'Version number, starting at 1.', minimum: 1 }),
    state: StringEnum(VERSION_STATES, {
      description:
        'State of this version. Generating: marked in flight before the backend was asked to make it, so that a crash is resumed by finding it, never by making a second one.',
    }),
    keyRef: Type.Optional(
      Type.String({
        description:
          'Reference to the key in the backend: an RFC 7512 pkcs11: URI (never with a PIN) or a cloud resource name.',
        maxLength: 2048,
      }),
    ),
    backendVersion: Type.Optional(
      Type.String({
        description:
          "The backend's own id of the version: the CKA_ID (hex) on PKCS#11, the version GUID on Azure, the CryptoKeyVersion on GCP, the key id on AWS.",
        maxLength: 256,
      }),
    ),
    target: Type.Optional(
      Type.String({
        description:
          'The token, vault or key ring the version was made on (KeyBackend status.info.target). The version is never generated, changed or destroyed anywhere else.',
        maxLength: 512,
      }),
    ),
    fingerprint: Type.Optional(
      Type.String({
        description: 'SHA-256 of the SubjectPublicKeyInfo, as SHA256:<base64>. Absent for symmetric keys.',
        maxLength: 64,
      }),
    ),
    createdTime: Timestamp('When this version was generated.'),
    archivedTime: Type.Optional(Timestamp('When this version stopped being current.')),
    destroyTime: Type.Optional(Timestamp('When this version is (or was) destroyed.')),
    recovery: Type.Optional(
      Type.Object(
        {
          configMapName: Type.String({
            description:
              'ConfigMap in the namespace holding the wrapped copy, its check value and the encrypted shares of its key-encryption key.',
            maxLength: 253,
          }),
          wrappedTime: Timestamp(
            'When the version was wrapped inside the backend and then made unextractable (CKA_EXTRACTABLE false): no wrap under any key is possible since.',
          ),
          kekAuthenticator: Type.String({
            description:
              'hkdf-sha256:<hex> of the key-encryption key: public; a KeyRecovery ceremony checks the KEK its shares rebuild against it before the backend is touched.',
            maxLength: 128,
          }),
          checkValue: Type.String({
            description:
              "The version's key check value (hex of the first 3 bytes of AES-ECB of a zero block); a restored key must have the same.",
            maxLength: 16,
          }),
          threshold: Type.Integer({ description: 'Shares needed to rebuild the KEK.', minimum: 2 }),
          custodians: Type.Array(Type.String({ description: 'A custodian name.', maxLength: 63 }), {
            description: 'The custodians who received a share of this version.',
            maxItems: 16,
          }),
        },
        {
          description:
            'The recovery backup of this version (spec.recovery), recorded once the wrapped copy is stored and the key sealed.',
        },
      ),
    ),
    destroyHeldUntil: Type.Optional(
      Timestamp(
        'Where the backend holds a destruction longer than destroyTime (it schedules destruction with a minimum of its own): when it lets the version go.',
      ),
    ),
  },
  docOptions({
    description: 'One version of the key.',
    // Status is not the only record, but it must not be bent either: whoever may write status cannot move a
    // version backwards, re-point it, or bring its destruction forward.
    rules: [
      {
        rule: `${VERSION_RANK}[self.state] >= ${VERSION_RANK}[oldSelf.state] || (oldSelf.state == 'Disabled' && self.state == 'Archived')`,
        message:
          "a version's state only moves forward (Generating, Active, Archived, Disabled, PendingDestruction, Destroyed), except from Disabled back to Archived",
      },
      ...['destroyTime', 'backendVersion', 'target', 'fingerprint'].map((field) => ({
        rule: `!has(oldSelf.${field}) || (has(self.${field}) && self.${field} == oldSelf.${field})`,
        message: `a version's ${field} cannot change once set`,
      })),
    ],
  }),
);

export const ManagedKeyStatus = Type.Object(
  {
    observedGeneration: Type.Optional(
      Type.Integer({ description: 'The .metadata.generation last reconciled.', minimum: 0 }),
    ),
    phase: Type.Optional(StringEnum(KEY_PHASES, { description: 'Where the key is in its lifecycle.' })),
    conditions: Type.Optional(Conditions()),
    currentVersion: Type.Optional(
      Type.Integer({ description: 'The version in use for new operations.', minimum: 1 }),
    ),
    keyRef: Type.Optional(Type.String({ description: 'Reference to the current version in the backend.' })),
    publicKeyFingerprint: Type.Optional(
      Type.String({ description: 'SHA-256 of the current SubjectPublicKeyInfo, as SHA256:<base64>.' }),
    ),
    effectiveFipsLevel: Type.Optional(
      Type.Integer({
        description: 'FIPS 140 level of the backend the key lives in.',
        minimum: 1,
        maximum: 4,
      }),
    ),
    versions: Type.Optional(
      Type.Array(KeyVersion, {
        description:
          'Every version the key has had, newest first (destroyed ones stay, as the record of them).',
        maxItems: MAX_RECORDED_VERSIONS,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['version'],
      }),
    ),
    lastRotationTime: Type.Optional(Timestamp('When the key last rotated.')),
    nextRotationTime: Type.Optional(
      Timestamp('When the key rotates next (the start of a window, where windows are set).'),
    ),
    lastRotationTrigger: Type.Optional(
      Type.String({ description: 'The spec.rotation.trigger value last acted upon.', maxLength: 253 }),
    ),
    lastRotationRequest: Type.Optional(
      Type.String({
        description: 'The keyward.io/rotate-requested-at annotation value last acted upon.',
        maxLength: 253,
      }),
    ),
    failedRotationAttempts: Type.Optional(
      Type.Integer({ description: 'Rotation failures since the last success.', minimum: 0 }),
    ),
    destroyTime: Type.Optional(Timestamp('When a pending destruction will happen.')),
    archival: Type.Optional(
      StringEnum(ARCHIVAL_ENFORCEMENTS, {
        description:
          "How the backend keeps archived versions from signing or encrypting anew: usages (restricted to verify/decrypt/unwrap in the backend), primary (no longer the backend's primary version) or reference (only the published reference moved on).",
      }),
    ),
  },
  docOptions({
    description: 'Observed state of the ManagedKey.',
    rules: [
      {
        rule: '!has(oldSelf.currentVersion) || (has(self.currentVersion) && self.currentVersion >= oldSelf.currentVersion)',
        message: 'status.currentVersion never goes down',
      },
      {
        rule: '!has(oldSelf.destroyTime) || (has(self.destroyTime) && self.destroyTime == oldSelf.destroyTime)',
        message: 'status.destroyTime cannot change once set',
      },
      {
        rule: '!has(oldSelf.versions) || (has(self.versions) && oldSelf.versions.all(o, self.versions.exists(v, v.version == o.version)))',
        message: 'a version recorded in status.versions cannot be removed',
      },
    ],
  }),
);

export const ManagedKey = defineResource({
  kind: 'ManagedKey',
  plural: 'managedkeys',
  singular: 'managedkey',
  shortNames: ['mk'],
  scope: 'Namespaced',
  description:
    'A ManagedKey is one logical cryptographic key and all its versions, kept in a KeyBackend through its whole lifecycle: generation, distribution, use, rotation, archival and destruction.',
  spec: ManagedKeySpec,
  status: ManagedKeyStatus,
  rules: [
    {
      rule: '!has(oldSelf.status) || !has(oldSelf.status.versions) || (has(self.status) && has(self.status.versions))',
      message: 'status.versions cannot be removed: it is the record of every version of the key',
    },
  ],
  printerColumns: [
    { name: 'Backend', type: 'string', description: 'KeyBackend.', jsonPath: '.spec.backendRef.name' },
    { name: 'Algorithm', type: 'string', description: 'Key algorithm.', jsonPath: '.spec.algorithm' },
    { name: 'Version', type: 'integer', description: 'Current version.', jsonPath: '.status.currentVersion' },
    { name: 'Phase', type: 'string', description: 'Lifecycle phase.', jsonPath: '.status.phase' },
    {
      name: 'Ready',
      type: 'string',
      description: 'Whether the key is ready for use.',
      jsonPath: '.status.conditions[?(@.type=="Ready")].status',
    },
    {
      // A string, not a date: kubectl shows a date column as an age, which for a future time reads "<invalid>".
      name: 'Next Rotation',
      type: 'string',
      description: 'Next rotation.',
      jsonPath: '.status.nextRotationTime',
    },
    { name: 'Age', type: 'date', description: 'Age.', jsonPath: '.metadata.creationTimestamp' },
  ],
});

export type ManagedKeySpec = Static<typeof ManagedKeySpec>;
export type ManagedKeyStatus = Static<typeof ManagedKeyStatus>;
export type ManagedKeyObject = ObjectOf<typeof ManagedKey>;
export type KeyVersion = Static<typeof KeyVersion>;
