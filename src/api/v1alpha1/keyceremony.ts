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
import { ALGORITHMS, ALLOWED_USAGES } from '../algorithms.ts';
import { defineResource } from '../resource.ts';
import type { ObjectOf } from '../resource.ts';

export const CEREMONY_TYPES = [
  'RootKeyGeneration',
  'KeyActivation',
  'KeyDestruction',
  'KeyRecovery',
] as const;
export const CEREMONY_PHASES = [
  'Preparation',
  'AwaitingQuorum',
  'Running',
  'AwaitingWitnesses',
  'Completed',
  'Failed',
  'Expired',
] as const;
/** The steps of every ceremony type; status lists those of its own type, in order (see CEREMONY_TYPE_STEPS). */
export const CEREMONY_STEPS = [
  'Preparation',
  'HSM Initialization',
  'Key Share Distribution',
  'Root Key Generation',
  'Root Certificate Signing',
  'Share Reconstruction',
  'Intermediate Certificate Signing',
  'Key Destruction',
  'Key Recovery',
  'Verification & Audit',
  'Secure Storage',
] as const;
type CeremonyStep = (typeof CEREMONY_STEPS)[number];

/** The steps each ceremony type goes through, in order. */
export const CEREMONY_TYPE_STEPS: Record<(typeof CEREMONY_TYPES)[number], readonly CeremonyStep[]> = {
  RootKeyGeneration: [
    'Preparation',
    'HSM Initialization',
    'Key Share Distribution',
    'Root Key Generation',
    'Root Certificate Signing',
    'Verification & Audit',
    'Secure Storage',
  ],
  KeyActivation: [
    'Preparation',
    'Share Reconstruction',
    'Intermediate Certificate Signing',
    'Verification & Audit',
    'Secure Storage',
  ],
  KeyDestruction: [
    'Preparation',
    'Share Reconstruction',
    'Key Destruction',
    'Verification & Audit',
    'Secure Storage',
  ],
  KeyRecovery: [
    'Preparation',
    'Share Reconstruction',
    'Key Recovery',
    'Verification & Audit',
    'Secure Storage',
  ],
};

/** An intermediate CA certificate lives at most as long as a root may (25 years); by default 10 years. */
export const INTERMEDIATE_VALIDITY_DEFAULT = '87600h';
export const STEP_STATES = ['Pending', 'Running', 'Done', 'Failed', 'Skipped'] as const;

/** Root certificates live 15 to 25 years (365-day years). */
export const ROOT_VALIDITY_MIN = '131400h';
export const ROOT_VALIDITY_MAX = '219000h';

const signingAlgorithms = ALGORITHMS.filter((a) => ALLOWED_USAGES[a].includes('sign') && a !== 'HMAC_SHA256');

const Quorum = Type.Object(
  {
    threshold: Type.Integer({
      description:
        'How many custodians (M) must approve before the ceremony runs. At least 2: dual control means no one acts alone.',
      minimum: 2,
    }),
    custodians: Type.Array(Participant, {
      description:
        'The custodians (N), each with their own key pair; the operator only ever sees public keys.',
      minItems: 2,
      maxItems: 16,
      ...celRules(distinctNames('custodian')),
    }),
  },
  docOptions({
    description: 'Dual control: M of N custodians must approve by signing the ceremony challenge.',
    rules: [
      {
        rule: 'self.threshold <= size(self.custodians)',
        message: 'quorum.threshold cannot be larger than the number of custodians',
      },
    ],
  }),
);

export const KeyCeremonySpec = Type.Object(
  {
    type: StringEnum(CEREMONY_TYPES, {
      description:
        'RootKeyGeneration creates a root key and its self-signed certificate; KeyActivation signs a CSR with an existing key; KeyDestruction destroys a key; KeyRecovery restores a key from its M-of-N backup.',
    }),
    backendRef: LocalObjectReference('The KeyBackend (cluster-scoped) that holds or receives the key.'),
    key: Type.Optional(
      Type.Object(
        {
          name: ObjectName('Name of the ManagedKey the ceremony creates (its rotation is off).'),
          algorithm: StringEnum(signingAlgorithms, { description: 'Algorithm of the root key.' }),
        },
        { description: 'The root key to generate (RootKeyGeneration).' },
      ),
    ),
    certificate: Type.Optional(
      Type.Object(
        {
          subject: Type.String({
            description: 'Distinguished name of the certificate, e.g. "CN=Example Root CA 2026,O=Example".',
            minLength: 4,
            maxLength: 1024,
            pattern: '^[A-Za-z.0-9]+=',
          }),
          validity: Duration({
            description: 'How long the root certificate is valid: 15 to 25 years (131400h to 219000h).',
            min: ROOT_VALIDITY_MIN,
            minMessage: 'a root certificate must be valid at least 15 years (131400h)',
            max: ROOT_VALIDITY_MAX,
            maxMessage: 'a root certificate may be valid at most 25 years (219000h)',
          }),
        },
        { description: 'The self-signed root certificate (RootKeyGeneration).' },
      ),
    ),
    target: Type.Optional(
      Type.Object(
        {
          managedKeyRef: LocalObjectReference('The ManagedKey the ceremony acts on.'),
          version: Type.Optional(
            Type.Integer({
              description:
                "KeyRecovery: the version to restore (each version has a key-encryption key and shares of its own); default the ManagedKey's current version.",
              minimum: 1,
            }),
          ),
          restoreAs: Type.Optional(
            ObjectName(
              "KeyRecovery into another KeyBackend than the key's: the ManagedKey the ceremony makes there (same namespace, the original's spec but backendRef and recovery), re-attached to the restored version. Absent: the version is restored for the original ManagedKey, into its own KeyBackend.",
            ),
          ),
          csr: Type.Optional(
            Type.String({
              description: 'PEM certificate signing request to sign (KeyActivation).',
              maxLength: 65536,
              pattern: '^-----BEGIN CERTIFICATE REQUEST-----',
            }),
          ),
          crlDistributionPoint: Type.Optional(
            Type.String({
              description:
                "KeyActivation: the URL of the root's CRL, put in the intermediate's cRLDistributionPoints (the Baseline Requirements require one).",
              maxLength: 512,
              pattern: '^http://[^\\s]+$',
            }),
          ),
          pathLength: Type.Optional(
            Type.Integer({
              description:
                "KeyActivation: the intermediate's basicConstraints pathLenConstraint (default 0: it issues end-entity certificates only).",
              minimum: 0,
              maximum: 4,
            }),
          ),
          validity: Type.Optional(
            Duration({
              description:
                "KeyActivation: how long the intermediate is valid (default 87600h, 10 years), and never past the root's notAfter.",
              min: '24h',
              minMessage: 'an intermediate must be valid at least 24h',
              max: ROOT_VALIDITY_MAX,
              maxMessage: 'an intermediate may be valid at most 25 years (219000h)',
            }),
          ),
        },
        {
          description: 'The existing key the ceremony acts on (KeyActivation, KeyDestruction, KeyRecovery).',
        },
      ),
    ),
    quorum: Quorum,
    witnesses: Type.Array(Participant, {
      description:
        'Witnesses who sign the transcript at the end; the ceremony completes only with all their signatures.',
      minItems: 1,
      maxItems: 16,
      ...celRules(distinctNames('witness')),
    }),
    splitKnowledge: Type.Boolean({
      description:
        'Split the activation data into N Shamir shares (threshold M), each encrypted to one custodian, so no one person knows it.',
      default: true,
    }),
    deadline: Duration({
      description: 'The ceremony fails as Expired if it has not completed this long after creation.',
      min: '1h',
      minMessage: 'deadline must be at least 1h',
      max: '720h',
      maxMessage: 'deadline may be at most 720h (30 days)',
      default: '72h',
    }),
  },
  docOptions({
    description: 'The ceremony to run. Immutable: custodians approve exactly this spec.',
    rules: [
      immutable('a KeyCeremony spec (custodians approved exactly this one; create a new ceremony instead)'),
      {
        rule: "self.type != 'RootKeyGeneration' || (has(self.key) && has(self.certificate))",
        message: 'a RootKeyGeneration ceremony needs key and certificate',
      },
      {
        rule: "self.type == 'RootKeyGeneration' || has(self.target)",
        message: 'KeyActivation, KeyDestruction and KeyRecovery ceremonies need target.managedKeyRef',
      },
      {
        rule: "self.type != 'KeyActivation' || (has(self.target) && has(self.target.csr))",
        message: 'a KeyActivation ceremony needs target.csr, the certificate signing request to sign',
      },
      {
        rule: "self.type != 'KeyActivation' || (has(self.target) && has(self.target.crlDistributionPoint))",
        message:
          "a KeyActivation ceremony needs target.crlDistributionPoint, the URL of the root's CRL (the Baseline Requirements require it in an intermediate)",
      },
      {
        rule: 'self.quorum.custodians.all(c, !self.witnesses.exists(w, w.name == c.name))',
        message: 'a witness cannot also be a custodian',
      },
    ],
  }),
);

const Step = Type.Object(
  {
    name: StringEnum(CEREMONY_STEPS, { description: 'The step.' }),
    state: StringEnum(STEP_STATES, { description: 'Where the step is.' }),
    startedTime: Type.Optional(Timestamp('When the step started.')),
    completedTime: Type.Optional(Timestamp('When the step ended.')),
    transcriptSeq: Type.Optional(
      Type.Integer({
        description: 'Sequence number of the transcript entry that records the step.',
        minimum: 1,
      }),
    ),
  },
  { description: 'One step of the ceremony.' },
);

export const KeyCeremonyStatus = Type.Object(
  {
    observedGeneration: Type.Optional(
      Type.Integer({ description: 'The .metadata.generation last reconciled.', minimum: 0 }),
    ),
    phase: Type.Optional(StringEnum(CEREMONY_PHASES, { description: 'Where the ceremony is.' })),
    challenge: Type.Optional(
      Type.String({
        description: "What custodians sign: sha256:<hex> of the ceremony's uid and canonical spec.",
        pattern: '^sha256:[0-9a-f]{64}$',
      }),
    ),
    approvals: Type.Optional(
      Type.Object(
        {
          threshold: Type.Integer({ description: 'Approvals needed.', minimum: 1 }),
          received: Type.Integer({ description: 'Valid approvals from distinct custodians.', minimum: 0 }),
          approvedBy: Type.Array(Type.String({ description: 'A custodian name.' }), {
            description: 'Custodians whose signature verified.',
          }),
        },
        { description: 'Quorum progress.' },
      ),
    ),
    steps: Type.Optional(Type.Array(Step, { description: 'The steps, in order.' })),
    shares: Type.Optional(
      Type.Array(
        Type.Object(
          {
            custodian: Type.String({ description: 'Custodian the share belongs to.' }),
            encryptedShare: Type.String({
              description: "The share, encrypted to the custodian's public key; only they can read it.",
            }),
            fingerprint: Type.String({
              description: "Fingerprint of the custodian's public key it is encrypted to.",
            }),
          },
          { description: 'One Shamir share of the activation data, encrypted to its custodian.' },
        ),
        { description: 'The encrypted shares (split knowledge).' },
      ),
    ),
    recipientCertificate: Type.Optional(
      Type.String({
        description:
          "KeyActivation and KeyRecovery: the ceremony's own certificate (PEM), for an ephemeral key that lives in the operator's memory for this ceremony only; each custodian re-encrypts their share to it (openssl cms -encrypt -binary -aes256 -outform PEM).",
      }),
    ),
    certificate: Type.Optional(
      Type.Object(
        {
          configMapName: Type.String({ description: 'ConfigMap holding the certificate PEM.' }),
          fingerprint: Type.String({ description: 'SHA-256 of the DER certificate, as SHA256:<base64>.' }),
          notBefore: Timestamp('Start of validity.'),
          notAfter: Timestamp('End of validity.'),
        },
        { description: 'The certificate the ceremony produced.' },
      ),
    ),
    restoredKey: Type.Optional(
      Type.Object(
        {
          managedKey: Type.String({ description: 'The ManagedKey whose version was restored.' }),
          version: Type.Integer({ description: 'The version restored.', minimum: 1 }),
          keyRef: Type.String({
            description: 'Where it is now: the pkcs11: URI in the backend restored into.',
          }),
          target: Type.String({
            description: 'The token it was restored into (KeyBackend status.info.target).',
          }),
          checkValue: Type.String({ description: "Its check value, equal to the original's." }),
          outcome: StringEnum(['created', 'adopted'] as const, {
            description: 'created: unwrapped now; adopted: the token already held this very key.',
          }),
        },
        { description: 'KeyRecovery: the key version the ceremony restored.' },
      ),
    ),
    transcript: Type.Optional(
      Type.Object(
        {
          configMapName: Type.String({ description: 'ConfigMap holding the hash-chained transcript.' }),
          entries: Type.Integer({ description: 'Number of entries.', minimum: 0 }),
          headHash: Type.String({ description: 'Hash of the last entry, which witnesses sign.' }),
        },
        { description: 'The tamper-evident transcript.' },
      ),
    ),
    startedTime: Type.Optional(Timestamp('When the ceremony started.')),
    completedTime: Type.Optional(Timestamp('When the ceremony completed or failed.')),
    conditions: Type.Optional(Conditions()),
  },
  { description: 'Observed state of the KeyCeremony.' },
);

export const KeyCeremony = defineResource({
  kind: 'KeyCeremony',
  plural: 'keyceremonies',
  singular: 'keyceremony',
  shortNames: ['kcer'],
  scope: 'Namespaced',
  description:
    'A KeyCeremony is a formal, witnessed procedure on a key under dual control (M-of-N custodian approvals) and split knowledge (Shamir shares), recorded in a hash-chained transcript that witnesses sign.',
  spec: KeyCeremonySpec,
  status: KeyCeremonyStatus,
  printerColumns: [
    { name: 'Type', type: 'string', description: 'Ceremony type.', jsonPath: '.spec.type' },
    { name: 'Phase', type: 'string', description: 'Phase.', jsonPath: '.status.phase' },
    {
      name: 'Approvals',
      type: 'integer',
      description: 'Approvals received.',
      jsonPath: '.status.approvals.received',
    },
    {
      name: 'Threshold',
      type: 'integer',
      description: 'Approvals needed.',
      jsonPath: '.spec.quorum.threshold',
    },
    { name: 'Age', type: 'date', description: 'Age.', jsonPath: '.metadata.creationTimestamp' },
  ],
});

export type KeyCeremonySpec = Static<typeof KeyCeremonySpec>;
export type KeyCeremonyStatus = Static<typeof KeyCeremonyStatus>;
export type KeyCeremonyObject = ObjectOf<typeof KeyCeremony>;
