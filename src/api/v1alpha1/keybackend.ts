import Type from 'typebox';
import type { Static } from 'typebox';
import {
  Conditions,
  Duration,
  LabelSelector,
  SecretKeySelector,
  StringEnum,
  Timestamp,
  docOptions,
} from '../schema.ts';
import { ALGORITHMS } from '../algorithms.ts';
import { defineResource } from '../resource.ts';
import type { ObjectOf } from '../resource.ts';

export const PKCS11_VENDORS = ['softhsm2', 'luna', 'nshield', 'yubihsm2', 'cloudhsm', 'generic'] as const;
export const GCP_PROTECTION_LEVELS = ['HSM', 'SOFTWARE', 'EXTERNAL'] as const;
export const BACKEND_KINDS = ['pkcs11', 'awsCloudHSM', 'awsKMS', 'azureKeyVault', 'gcpKMS'] as const;
/** Where the user PIN of a PKCS#11 token comes from: a Secret, or (an offline root) a ceremony's quorum. */
export const PKCS11_ACTIVATIONS = ['Secret', 'Ceremony'] as const;
export const ARCHIVAL_ENFORCEMENTS = ['usages', 'primary', 'reference'] as const;

const ModulePath = Type.String({
  description: 'Absolute path of the PKCS#11 module (shared library) inside the operator container.',
  minLength: 2,
  maxLength: 4096,
  pattern: '^/',
});

const TokenSelector = Type.Object(
  {
    label: Type.Optional(
      Type.String({ description: 'Token label (CKA_LABEL of the token).', minLength: 1, maxLength: 32 }),
    ),
    serial: Type.Optional(Type.String({ description: 'Token serial number.', minLength: 1, maxLength: 16 })),
    slotId: Type.Optional(
      Type.Integer({
        description:
          'Slot id. Prefer label or serial: some modules (SoftHSM2 among them) renumber slots when tokens change.',
        minimum: 0,
      }),
    ),
  },
  docOptions({
    description: 'Which token to use: exactly one of label, serial or slotId.',
    rules: [
      {
        rule: '[has(self.label), has(self.serial), has(self.slotId)].filter(x, x).size() == 1',
        message: 'token must name exactly one of label, serial or slotId',
      },
    ],
  }),
);

export const Pkcs11Backend = Type.Object(
  {
    modulePath: ModulePath,
    vendor: StringEnum(PKCS11_VENDORS, {
      description:
        'HSM vendor, which selects known quirks (mechanisms to avoid, PIN format). Use generic for any other module.',
      default: 'generic',
    }),
    token: TokenSelector,
    activation: Type.Optional(
      StringEnum(PKCS11_ACTIVATIONS, {
        description:
          'Secret (when absent): the operator logs in with the PIN in pinSecretRef. Ceremony: an offline root; a RootKeyGeneration KeyCeremony initialises the token (with token.label) and splits its PINs among the custodians, so no PIN is stored anywhere and only a quorum of custodians can activate it again.',
      }),
    ),
    pinSecretRef: Type.Optional(
      SecretKeySelector(
        'Secret holding the user PIN of the token (activation Secret). The PIN is never logged or copied.',
      ),
    ),
    maxSessions: Type.Integer({
      description: 'Largest number of concurrent PKCS#11 sessions the operator opens on the token.',
      minimum: 1,
      maximum: 64,
      default: 4,
    }),
  },
  docOptions({
    description:
      'A PKCS#11 token: a network or PCIe HSM partition, a YubiHSM 2, or SoftHSM2 for development.',
    rules: [
      {
        rule: "(has(self.activation) && self.activation == 'Ceremony') || has(self.pinSecretRef)",
        message: 'pinSecretRef is required unless activation is Ceremony',
      },
      {
        rule: "!has(self.activation) || self.activation != 'Ceremony' || !has(self.pinSecretRef)",
        message:
          'an offline root (activation Ceremony) has no pinSecretRef: no PIN of its token is stored in the cluster',
      },
      {
        rule: "!has(self.activation) || self.activation != 'Ceremony' || has(self.token.label)",
        message:
          'activation Ceremony needs token.label: the label the ceremony gives the token it initialises',
      },
    ],
  }),
);

function AwsRegion(description: string) {
  return Type.String({ description, minLength: 1, maxLength: 32, pattern: '^[a-z]{2}(-[a-z]+)+-[0-9]+$' });
}

function AwsEndpoint(description: string) {
  return Type.Optional(Type.String({ description, maxLength: 2048, pattern: '^https?://' }));
}

const AwsCredentialsSecretRef = Type.Optional(
  SecretKeySelector(
    'Secret with AWS credentials in the AWS shared credentials file format (the [default] profile, or the only one). Without it the default provider chain is used: environment, IRSA (web identity), EKS Pod Identity, instance profile.',
  ),
);

const AwsCloudHsmBackend = Type.Object(
  {
    region: AwsRegion('AWS region of the cluster, e.g. eu-west-1.'),
    clusterId: Type.String({
      description: 'Id of the CloudHSM cluster, e.g. cluster-abc123.',
      pattern: '^cluster-[2-7a-zA-Z]{11,16}$|^cluster-[a-z0-9]+$',
      maxLength: 64,
    }),
    endpoint: AwsEndpoint('Override of the CloudHSM v2 API endpoint (a VPC endpoint, or a local test peer).'),
    credentialsSecretRef: AwsCredentialsSecretRef,
    pkcs11: Type.Object(
      {
        modulePath: Type.String({
          ...ModulePath,
          description: 'Absolute path of the CloudHSM PKCS#11 library inside the operator container.',
          default: '/opt/cloudhsm/lib/libcloudhsm_pkcs11.so',
        }),
        token: Type.Optional({
          ...TokenSelector,
          description:
            'Which token to use: exactly one of label, serial or slotId. Default: the label hsm1, the one token the CloudHSM library (Client SDK 5) presents for a cluster.',
        }),
        pinSecretRef: SecretKeySelector(
          'Secret holding the crypto user login, in the form user:password. It is never logged or copied.',
        ),
        maxSessions: Type.Integer({
          description: 'Largest number of concurrent PKCS#11 sessions.',
          minimum: 1,
          maximum: 64,
          default: 4,
        }),
      },
      { description: 'The CloudHSM PKCS#11 library through which keys are made and used.' },
    ),
  },
  {
    description:
      'An AWS CloudHSM cluster: cluster state through the CloudHSM v2 API, keys through its PKCS#11 library.',
  },
);

export const AZURE_VAULT_TYPES = ['KeyVault', 'ManagedHSM'] as const;

const AwsKmsBackend = Type.Object(
  {
    region: AwsRegion('AWS region the keys live in, e.g. eu-west-1.'),
    endpoint: AwsEndpoint('Override of the KMS API endpoint (a VPC endpoint, or a local test peer).'),
    credentialsSecretRef: AwsCredentialsSecretRef,
    customKeyStoreId: Type.Optional(
      Type.String({
        description:
          'A KMS custom key store (e.g. cks-1234567890abcdef0) to create keys in: keys in a CloudHSM cluster or an external key manager, used through KMS. Only AES_256 keys can live there.',
        pattern: '^cks-[a-z0-9]+$',
        maxLength: 64,
      }),
    ),
  },
  {
    description:
      'AWS KMS in one account and region: one KMS key per ManagedKey version, found again by its tags, the current version behind an alias.',
  },
);

export const AzureKeyVaultBackend = Type.Object(
  {
    vaultUrl: Type.String({
      description:
        'URL of the Key Vault or Managed HSM, e.g. https://example.vault.azure.net or https://example.managedhsm.azure.net.',
      minLength: 8,
      maxLength: 2048,
      pattern: '^https://',
    }),
    vaultType: Type.Optional(
      StringEnum(AZURE_VAULT_TYPES, {
        description:
          'KeyVault (Premium, HSM-protected keys) or ManagedHSM. Taken from the URL for Azure host names; required for any other host (a private DNS name, a test peer), and must agree with an Azure host name.',
      }),
    ),
    credentialsSecretRef: Type.Optional(
      SecretKeySelector(
        'Secret with a service principal (JSON with tenantId, clientId, clientSecret). Without it workload identity is used (AZURE_FEDERATED_TOKEN_FILE), or else the managed identity.',
      ),
    ),
    authorityHost: Type.Optional(
      Type.String({
        description:
          'Microsoft Entra ID authority, e.g. https://login.microsoftonline.us for Azure Government. When set, it is trusted as given (no instance discovery). Default: the public cloud, or AZURE_AUTHORITY_HOST.',
        maxLength: 2048,
        pattern: '^https://',
      }),
    ),
    disableChallengeResourceVerification: Type.Boolean({
      description:
        "Accept an authentication challenge whose resource is not the vault's own domain. Only for vaults reached under another host name (a test peer); leave false otherwise.",
      default: false,
    }),
  },
  { description: 'An Azure Key Vault (Premium for HSM-backed keys) or an Azure Managed HSM.' },
);

const GcpKmsBackend = Type.Object(
  {
    project: Type.String({ description: 'Google Cloud project id.', minLength: 6, maxLength: 30 }),
    location: Type.String({
      description: 'Cloud KMS location, e.g. europe-west1.',
      minLength: 1,
      maxLength: 64,
    }),
    keyRing: Type.String({
      description: 'Key ring that the keys live in; created when missing.',
      minLength: 1,
      maxLength: 63,
      pattern: '^[a-zA-Z0-9_-]+$',
    }),
    protectionLevel: StringEnum(GCP_PROTECTION_LEVELS, {
      description:
        'HSM for Cloud HSM (FIPS 140-2 level 3), SOFTWARE for software keys (level 1), EXTERNAL for Cloud EKM. fipsLevel may not claim more than the protection level gives.',
      default: 'HSM',
    }),
    destroyScheduledDuration: Duration({
      description:
        'How long a CryptoKeyVersion stays DESTROY_SCHEDULED (restorable) before Cloud KMS destroys it. Set on each CryptoKey when it is made and immutable afterwards; Cloud KMS accepts 24h to 2880h (120 days).',
      min: '24h',
      max: '2880h',
      minMessage: 'destroyScheduledDuration must be at least 24h (the Cloud KMS minimum)',
      maxMessage: 'destroyScheduledDuration must be at most 2880h (120 days, the Cloud KMS maximum)',
      default: '24h',
    }),
    endpoint: Type.Optional(
      Type.String({
        description:
          'Override of the Cloud KMS API endpoint as host:port (TLS), e.g. a private endpoint. http://host:port (plaintext) is accepted for loopback hosts only, for a local test peer.',
        maxLength: 2048,
        pattern: '^(https?://)?[^/]+$',
      }),
    ),
    credentialsSecretRef: Type.Optional(
      SecretKeySelector(
        'Secret with a service account key (JSON). Without it Application Default Credentials are used (GKE workload identity).',
      ),
    ),
  },
  { description: 'A Google Cloud KMS key ring, with Cloud HSM or software protection.' },
);

export const KeyBackendSpec = Type.Object(
  {
    fipsLevel: Type.Integer({
      description:
        'FIPS 140 security level (1-4) this backend is validated to, as declared by the platform admin. ManagedKeys can demand a minimum.',
      minimum: 1,
      maximum: 4,
    }),
    namespaceSelector: Type.Optional({
      ...LabelSelector,
      description: 'Namespaces whose ManagedKeys may use this backend. Empty or absent: every namespace.',
    }),
    pkcs11: Type.Optional(Pkcs11Backend),
    awsCloudHSM: Type.Optional(AwsCloudHsmBackend),
    awsKMS: Type.Optional(AwsKmsBackend),
    azureKeyVault: Type.Optional(AzureKeyVaultBackend),
    gcpKMS: Type.Optional(GcpKmsBackend),
    healthCheckInterval: Duration({
      description: 'How often the operator checks that the backend is reachable.',
      min: '10s',
      minMessage: 'healthCheckInterval must be at least 10s',
      default: '5m',
    }),
  },
  docOptions({
    description: 'Desired state of the KeyBackend.',
    rules: [
      {
        rule: '[has(self.pkcs11), has(self.awsCloudHSM), has(self.awsKMS), has(self.azureKeyVault), has(self.gcpKMS)].filter(x, x).size() == 1',
        message: 'exactly one backend must be set: pkcs11, awsCloudHSM, awsKMS, azureKeyVault or gcpKMS',
      },
      {
        rule: "!has(self.gcpKMS) || self.gcpKMS.protectionLevel != 'HSM' || self.fipsLevel <= 3",
        message:
          'Cloud HSM is validated to FIPS 140-2 level 3: fipsLevel must be at most 3 with protectionLevel HSM',
      },
      {
        rule: "!has(self.gcpKMS) || self.gcpKMS.protectionLevel != 'SOFTWARE' || self.fipsLevel <= 1",
        message:
          'Cloud KMS software keys are validated to FIPS 140-2 level 1: fipsLevel must be 1 with protectionLevel SOFTWARE',
      },
    ],
  }),
);

export const KeyBackendStatus = Type.Object(
  {
    observedGeneration: Type.Optional(
      Type.Integer({ description: 'The .metadata.generation last reconciled.', minimum: 0 }),
    ),
    conditions: Type.Optional(Conditions()),
    info: Type.Optional(
      Type.Object(
        {
          target: Type.Optional(
            Type.String({
              description:
                'Identity of the token, vault or key ring keys live in; each key version records it and is never acted on elsewhere.',
            }),
          ),
          tokenLabel: Type.Optional(Type.String({ description: 'Label of the token or partition.' })),
          manufacturer: Type.Optional(Type.String({ description: 'Manufacturer reported by the backend.' })),
          model: Type.Optional(Type.String({ description: 'Model reported by the backend.' })),
          serial: Type.Optional(Type.String({ description: 'Serial number of the token or HSM.' })),
          firmwareVersion: Type.Optional(Type.String({ description: 'Firmware version, where reported.' })),
          state: Type.Optional(Type.String({ description: 'Cluster or vault state (cloud backends).' })),
          hsmCount: Type.Optional(
            Type.Integer({ description: 'Number of HSMs in the cluster (AWS CloudHSM).' }),
          ),
          availabilityZones: Type.Optional(
            Type.Array(Type.String({ description: 'An Availability Zone.' }), {
              description:
                'Availability Zones the HSMs are in (AWS CloudHSM); one means no high availability.',
            }),
          ),
          latestBackupTime: Type.Optional(
            Timestamp('When the newest completed backup of the cluster was taken (AWS CloudHSM).'),
          ),
          validatedFipsLevel: Type.Optional(
            Type.Integer({
              description:
                'FIPS 140 level the target is validated to, where the backend can tell (cloud services). spec.fipsLevel may not exceed it.',
              minimum: 1,
              maximum: 4,
            }),
          ),
        },
        { description: 'What the backend reports about itself.' },
      ),
    ),
    capabilities: Type.Optional(
      Type.Object(
        {
          algorithms: Type.Array(StringEnum(ALGORITHMS, { description: 'An algorithm.' }), {
            description: 'Algorithms keys can be generated with.',
          }),
          nativeRotation: Type.Array(StringEnum(ALGORITHMS, { description: 'An algorithm.' }), {
            description: 'Algorithms whose keys the backend rotates on its own schedule (empty: none).',
          }),
          versions: Type.Boolean({ description: 'Whether the backend keeps versions of one key natively.' }),
          archival: StringEnum(ARCHIVAL_ENFORCEMENTS, {
            description:
              "How an archived version is kept from signing or encrypting anew: usages (the backend restricts the version to verify/decrypt/unwrap), primary (it stops being the primary version) or reference (only the published reference moves on; limit direct use with the backend's IAM).",
          }),
          minDestroyDelay: Type.String({
            description:
              'Shortest delay the backend imposes between scheduling and performing a destruction.',
          }),
          maxDestroyDelay: Type.Optional(
            Type.String({ description: 'Longest destruction delay the backend accepts, where it has one.' }),
          ),
          restorable: Type.Boolean({
            description:
              'Whether a version scheduled for destruction can be restored until its destroy time.',
          }),
          recoveryWrap: Type.Optional(
            Type.Boolean({
              description:
                'Whether the backend makes recovery backups (ManagedKey spec.recovery): a key wrapped once inside it (RFC 5649) and sealed, and restored by a KeyRecovery ceremony.',
            }),
          ),
        },
        { description: 'What the backend can do.' },
      ),
    ),
  },
  { description: 'Observed state of the KeyBackend.' },
);

export const KeyBackend = defineResource({
  kind: 'KeyBackend',
  plural: 'keybackends',
  singular: 'keybackend',
  shortNames: ['kb'],
  scope: 'Cluster',
  description:
    'A KeyBackend is one HSM token or partition, cloud HSM cluster, key vault or key ring that ManagedKeys live in. Platform admins own KeyBackends; application teams reference them.',
  spec: KeyBackendSpec,
  status: KeyBackendStatus,
  printerColumns: [
    { name: 'FIPS', type: 'integer', description: 'Declared FIPS 140 level.', jsonPath: '.spec.fipsLevel' },
    {
      name: 'Ready',
      type: 'string',
      description: 'Whether the backend is reachable.',
      jsonPath: '.status.conditions[?(@.type=="Ready")].status',
    },
    {
      name: 'Reason',
      type: 'string',
      description: 'Why it is or is not ready.',
      jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
    },
    { name: 'Age', type: 'date', description: 'Age.', jsonPath: '.metadata.creationTimestamp' },
  ],
});

export type KeyBackendSpec = Static<typeof KeyBackendSpec>;
export type KeyBackendStatus = Static<typeof KeyBackendStatus>;
export type Pkcs11Backend = Static<typeof Pkcs11Backend>;
export type AzureKeyVaultBackend = Static<typeof AzureKeyVaultBackend>;
export type GcpKmsBackend = Static<typeof GcpKmsBackend>;
export type AwsCloudHsmBackend = Static<typeof AwsCloudHsmBackend>;
export type AwsKmsBackend = Static<typeof AwsKmsBackend>;
export type KeyBackendObject = ObjectOf<typeof KeyBackend>;
