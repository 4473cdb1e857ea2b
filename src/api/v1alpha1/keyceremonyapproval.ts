import Type from 'typebox';
import type { Static } from 'typebox';
import { Conditions, LocalObjectReference, StringEnum, Timestamp, docOptions, immutable } from '../schema.ts';
import { defineResource } from '../resource.ts';
import type { ObjectOf } from '../resource.ts';

export const APPROVAL_ROLES = ['Custodian', 'Witness'] as const;

export const KeyCeremonyApprovalSpec = Type.Object(
  {
    ceremonyRef: LocalObjectReference('The KeyCeremony (same namespace) this approval is for.'),
    role: StringEnum(APPROVAL_ROLES, {
      description: 'Custodian approves the ceremony challenge; Witness signs the final transcript head.',
    }),
    signer: Type.String({
      description: 'Name of the custodian or witness, as listed in the ceremony.',
      minLength: 1,
      maxLength: 63,
    }),
    signedDigest: Type.String({
      description:
        "What was signed: the ceremony's challenge (custodian) or transcript head (witness), sha256:<hex>.",
      pattern: '^sha256:[0-9a-f]{64}$',
    }),
    signature: Type.String({
      description: "Signature over signedDigest made with the signer's own private key, base64.",
      minLength: 1,
      maxLength: 2048,
      pattern: '^[A-Za-z0-9+/]+={0,2}$',
    }),
    share: Type.Optional(
      Type.String({
        description:
          "KeyActivation and KeyRecovery: the custodian's share, re-encrypted to the ceremony's own key (never in plaintext).",
        maxLength: 8192,
      }),
    ),
  },
  docOptions({
    description: 'An approval signed by a custodian or witness. Immutable: submit a new one to change it.',
    rules: [immutable('a KeyCeremonyApproval spec')],
  }),
);

export const KeyCeremonyApprovalStatus = Type.Object(
  {
    observedGeneration: Type.Optional(
      Type.Integer({ description: 'The .metadata.generation last reconciled.', minimum: 0 }),
    ),
    verified: Type.Optional(
      Type.Boolean({ description: 'Whether the signature verified against the signer.' }),
    ),
    verifiedTime: Type.Optional(Timestamp('When the signature was checked.')),
    conditions: Type.Optional(Conditions()),
  },
  { description: 'Observed state of the approval.' },
);

export const KeyCeremonyApproval = defineResource({
  kind: 'KeyCeremonyApproval',
  plural: 'keyceremonyapprovals',
  singular: 'keyceremonyapproval',
  shortNames: ['kcap'],
  scope: 'Namespaced',
  description:
    "A KeyCeremonyApproval is what a custodian or witness submits: a signature made with the person's own private key, so that Kubernetes RBAC alone can never forge a quorum.",
  spec: KeyCeremonyApprovalSpec,
  status: KeyCeremonyApprovalStatus,
  printerColumns: [
    { name: 'Ceremony', type: 'string', description: 'Ceremony.', jsonPath: '.spec.ceremonyRef.name' },
    { name: 'Role', type: 'string', description: 'Role.', jsonPath: '.spec.role' },
    { name: 'Signer', type: 'string', description: 'Signer.', jsonPath: '.spec.signer' },
    { name: 'Verified', type: 'boolean', description: 'Signature verified.', jsonPath: '.status.verified' },
    { name: 'Age', type: 'date', description: 'Age.', jsonPath: '.metadata.creationTimestamp' },
  ],
});

export type KeyCeremonyApprovalSpec = Static<typeof KeyCeremonyApprovalSpec>;
export type KeyCeremonyApprovalObject = ObjectOf<typeof KeyCeremonyApproval>;
