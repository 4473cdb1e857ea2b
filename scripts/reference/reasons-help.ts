// What each reason means and what to do about it: the human half of docs/reference.md. The reasons themselves are
// found in the code (reasons.ts); `npm run generate` and the drift test fail when a reason the code sets has no entry
// here, or an entry names a reason the code no longer sets.

export interface ReasonHelp {
  /** What happened, for a person. */
  means: string;
  /** What to do; absent when it is a normal state that needs nothing. */
  todo?: string;
}

const backend = (means: string, todo: string): ReasonHelp => ({ means, todo });

export const REASON_HELP: Readonly<Record<string, ReasonHelp>> = {
  // Backend error codes (src/backends/errors.ts): any kind's condition can carry one when its backend call fails.
  NotFound: backend(
    'The backend has no key (version) of that identity.',
    'Check that the KeyBackend reaches the token, vault or key ring the key was made on.',
  ),
  AlreadyExists: backend(
    'Something with the key’s identity exists in the backend but cannot be adopted (other algorithm or label, or duplicates).',
    'Inspect the backend object the message names; remove it or point the ManagedKey elsewhere. Keyward never overwrites it.',
  ),
  PermissionDenied: backend(
    'The backend refused the operation: key attributes, token policy or the credentials’ rights.',
    'Grant the operator’s identity the actions in docs/backends.md for this backend.',
  ),
  Unsupported: backend(
    'The backend cannot do what was asked (an algorithm, a usage or a digest it does not offer).',
    'Choose an algorithm and usages the KeyBackend lists in status.capabilities.',
  ),
  Retryable: backend(
    'A transient failure (timeout, throttling, unreachable endpoint); retried with backoff.',
    'Nothing if it clears; if it persists, check the network path to the backend (NetworkPolicy egress, endpoints).',
  ),
  Misconfigured: backend(
    'The KeyBackend’s configuration cannot work (a bad endpoint, region, key ring or module setting).',
    'Fix the KeyBackend spec as the message says; the operator retries after the change.',
  ),
  ModuleNotFound: backend(
    'The PKCS#11 library at spec.pkcs11.modulePath cannot be loaded in the operator’s pod.',
    'Mount the vendor library with the chart’s pkcs11.library.* values and use its path in the pod (install.md).',
  ),
  TokenNotFound: backend(
    'No token with the KeyBackend’s label, serial or slot is present.',
    'Check the token selector against `pkcs11-tool --list-slots` (or the vendor tool) run with the same library and configuration.',
  ),
  PinIncorrect: backend(
    'The token refused the PIN.',
    'Fix the PIN Secret. The operator does not retry in a loop (a few wrong PINs lock the token).',
  ),
  PinLocked: backend(
    'The token’s user PIN is locked after too many wrong attempts.',
    'Unlock it with the Security Officer (vendor tool), then fix the PIN Secret.',
  ),
  PolicyViolation: backend(
    'The backend’s or the key’s policy forbids the operation (for instance a non-extractable or restricted key).',
    'Read the message; change the key’s usages or the backend policy.',
  ),
  TargetMismatch: backend(
    'The KeyBackend now reaches another token, vault or key ring than the one the versions were made on; nothing is done there.',
    'Point the KeyBackend back at the original target, or re-attach on purpose with the keyward.io/external-name annotation.',
  ),

  // ManagedKey
  KeyReady: { means: 'The current version exists in the backend and was verified.' },
  PendingGeneration: {
    means: 'The first version is being generated (a cloud HSM can take a while).',
    todo: 'Nothing; it turns Ready when the backend finishes.',
  },
  KeyMissing: {
    means:
      'A version status records is missing from the backend. It is never regenerated, so a key in use is not silently replaced.',
    todo: 'Restore the key in the backend (backup, undelete) or, if it is really gone, delete the ManagedKey and make a new one.',
  },
  FingerprintMismatch: {
    means:
      'The key in the backend is not the one status recorded (another public key under the same identity).',
    todo: 'Treat it as an incident: find who replaced the key. Keyward does not use it.',
  },
  UnrecordedVersions: {
    means:
      'The backend holds versions of this key that status does not record (status emptied, or restored from a backup); nothing was generated.',
    todo: 'Take them over on purpose with the keyward.io/external-name annotation, or remove them from the backend.',
  },
  PendingDestruction: {
    means:
      'The ManagedKey was deleted with deletionPolicy Destroy: every version is disabled and is destroyed at status.destroyTime.',
    todo: 'To keep the key, restore it in the backend before destroyTime (see docs/managed-keys.md).',
  },
  SpecNotInEffect: {
    means:
      'A spec field asks for something this version of Keyward does not do (the message names it); the rest of the key works.',
    todo: 'Remove the field or upgrade to a version that implements it.',
  },
  RecoveryUnsupported: {
    means:
      'spec.recovery needs a backend that wraps a key inside itself (RFC 5649 key wrap with padding); this KeyBackend cannot, so nothing was generated.',
    todo: 'Use a PKCS#11 KeyBackend (KeyBackend status.capabilities shows recoveryWrap), or remove spec.recovery before the key is first created.',
  },
  BackedUp: {
    means: 'Every version has its recovery backup: the wrapped key and the custodians’ shares are stored.',
  },
  BackupMissing: {
    means:
      'A version has no recovery backup: its wrapped copy was never stored (the key stays unsealed until it is).',
    todo: 'Look at the ManagedKey’s events and the operator log for the failed backup step; it is retried.',
  },
  AwaitingDestructionCeremony: {
    means:
      'The ManagedKey was deleted with deletionPolicy Destroy and destroyRequiresCeremony: every version is disabled, and nothing is destroyed until a KeyDestruction ceremony reaches its quorum.',
    todo: 'Create the KeyDestruction ceremony the message names (docs/ceremonies.md).',
  },
  BackendNotReady: {
    means: 'The KeyBackend is not Ready, so the key cannot be reconciled.',
    todo: 'Look at the KeyBackend’s Ready condition: its reason says what is wrong.',
  },
  BackendNotFound: {
    means: 'The KeyBackend named in spec.backendRef does not exist.',
    todo: 'Create it or fix the name (backendRef is immutable on a ManagedKey).',
  },
  NamespaceNotAllowed: {
    means:
      'The KeyBackend does not serve this namespace: the namespace does not match its namespaceSelector.',
    todo: 'Label the namespace to match, or use a KeyBackend that serves it.',
  },
  InsufficientProtection: {
    means: 'spec.protection.minFipsLevel is higher than the KeyBackend’s fipsLevel; nothing was generated.',
    todo: 'Use a KeyBackend validated to that level, or lower the requirement.',
  },
  UnsupportedAlgorithm: {
    means: 'The KeyBackend cannot generate keys of spec.algorithm.',
    todo: 'Choose one of the algorithms in the KeyBackend’s status.capabilities.',
  },
  Connected: { means: 'BackendReady: the KeyBackend is ready and the key reached it.' },
  Scheduled: {
    means: 'Rotating is False: no rotation is running; the next one is at status.nextRotationTime.',
  },
  RotationFailed: {
    means:
      'A rotation failed; the current version stays in use and the rotation is retried later (status.failedRotationAttempts).',
    todo: 'Read the Warning event’s note for the backend’s error.',
  },
  WindowNeverOpens: {
    means: 'The rotation windows in spec.rotation.windows never open, so a due rotation can never start.',
    todo: 'Fix the windows (cron and duration) in spec.rotation.',
  },
  Published: { means: 'Distributed: the public keys are in the ConfigMap spec.distribution names.' },
  NotConfigured: { means: 'Distributed is False because no distribution is configured; nothing to do.' },
  ConfigMapNotOwned: {
    means: 'The distribution ConfigMap exists and is not managed by this ManagedKey; it is not overwritten.',
    todo: 'Choose another configMapName, or delete the ConfigMap.',
  },
  BackendError: {
    means: 'Warning event: a backend call failed; its note carries the error code and message.',
    todo: 'See the condition reason the same failure set, above.',
  },
  KeyCreated: { means: 'Event: version 1 was generated.' },
  KeyAdopted: {
    means: 'Event: version 1 was found in the backend (an earlier, interrupted attempt) and adopted.',
  },
  KeyReattached: {
    means: 'Event: versions were re-attached as the keyward.io/external-name annotation asks.',
  },
  KeyRotated: {
    means: 'Event: a new version is current (the note says why: period, trigger or an interrupted rotation).',
  },
  RotationScheduled: { means: 'Event: when the current version will rotate.' },
  VersionArchived: { means: 'Event: a version was archived (kept for verify and decrypt only).' },
  VersionDisabled: { means: 'Event: a version was disabled in the backend.' },
  VersionDestructionScheduled: { means: 'Event: an archived version is scheduled for destruction.' },
  VersionDestroyed: { means: 'Event: a version was destroyed in the backend.' },
  KeyDisabled: {
    means: 'Event: deletionPolicy Disable: every version was disabled and kept in the backend.',
  },
  DestructionScheduled: {
    means: 'Event: deletionPolicy Destroy: every version was disabled; destruction is scheduled.',
  },
  KeyDestroyed: { means: 'Event: every version was destroyed in the backend.' },

  // KeyBackend
  Offline: {
    means:
      'An offline root: its token is activated only by a KeyCeremony and no PIN is stored in the cluster. Expected for a root CA backend.',
  },
  ConnectionFailed: {
    means:
      'The operator could not connect to the backend for a reason that is not a backend error code (library crash, network).',
    todo: 'Read the message; check the library, its configuration and the network path.',
  },
  FipsLevelOverstated: {
    means: 'spec.fipsLevel is higher than the level the device reports being validated to.',
    todo: 'Set fipsLevel to the validated level or lower.',
  },
  SecretNotFound: {
    means: 'The credential or PIN Secret the KeyBackend names does not exist.',
    todo: 'Create it in the namespace the reference names.',
  },
  SecretUnreadable: {
    means: 'The operator may not read the Secret (403).',
    todo: 'Add its namespace to the chart’s rbac.secretNamespaces.',
  },
  SecretKeyNotFound: {
    means: 'The Secret exists but has no data key the reference names.',
    todo: 'Add the key to the Secret or fix the reference’s key.',
  },

  // KeyCeremony
  AwaitingApprovals: {
    means: 'QuorumReached is False: custodians have not all signed yet.',
    todo: 'Each custodian signs the challenge in status (kubectl keyward approve).',
  },
  ApprovalsRefused: {
    means: 'Some approvals do not count (the message says why); the quorum is not reached.',
    todo: 'Look at the KeyCeremonyApproval objects’ Verified condition.',
  },
  QuorumReached: { means: 'Enough custodians approved; the ceremony runs.' },
  AwaitingShares: {
    means: 'An activation ceremony waits until enough key shares can be opened.',
    todo: 'Custodians submit their shares (docs/ceremonies.md).',
  },
  SharesDoNotMatch: {
    means:
      'The shares submitted do not rebuild the activation data (a share is wrong or altered); the token was not touched.',
    todo: 'Have each custodian check their share; submit the right ones.',
  },
  AwaitingWitnesses: {
    means: 'The transcript is sealed; witnesses have not all signed its head.',
    todo: 'Each witness signs the transcript head in status.',
  },
  Witnessed: { means: 'Every witness signed the transcript head.' },
  Completed: { means: 'The ceremony completed and was witnessed.' },
  Expired: {
    means: 'The deadline passed before the ceremony completed.',
    todo: 'Start a new ceremony; what this one made (if anything) stays, unwitnessed.',
  },
  Interrupted: {
    means:
      'The operator stopped while the ceremony ran; its activation secret lived only in memory, so the ceremony cannot finish.',
    todo: 'Run a new ceremony (custodians keep their shares).',
  },
  RecipientKeyLost: {
    means:
      'The operator restarted, and the key shares were encrypted to a recipient key that lived only in its memory.',
    todo: 'Run a new activation ceremony; nothing is lost.',
  },
  NotImplemented: {
    means: 'This version of Keyward does not carry out ceremonies of this type; nothing was done.',
    todo: 'Upgrade, or use a supported ceremony type.',
  },
  InvalidSpec: {
    means: 'The ceremony’s spec cannot be carried out (the message says which part).',
    todo: 'Create a corrected ceremony (its spec is immutable).',
  },
  BackendNotOffline: {
    means: 'The KeyBackend is not an offline root (spec.pkcs11.activation: Ceremony with a token label).',
    todo: 'Use an offline-root KeyBackend for root ceremonies.',
  },
  CustodianCannotReceiveShare: {
    means: 'A custodian’s key can sign but cannot receive an encrypted share (Ed25519).',
    todo: 'Give the custodian an EC P-256, EC P-384 or RSA key.',
  },
  KeyExists: {
    means:
      'The ManagedKey the ceremony would create already exists and was not made by it; a ceremony never overwrites a key.',
    todo: 'Choose another key name.',
  },
  CertificateExists: {
    means: 'The certificate ConfigMap the ceremony would write already exists; it is never overwritten.',
    todo: 'Choose another name or remove the ConfigMap.',
  },
  CertificateRefused: {
    means: 'The certificate could not be made from the spec (the message says why).',
    todo: 'Fix the certificate fields in a new ceremony.',
  },
  CsrRefused: {
    means: 'The certificate signing request given to the ceremony was refused.',
    todo: 'Fix the CSR as the message says.',
  },
  TargetNotFound: { means: 'The ManagedKey the ceremony acts on does not exist.', todo: 'Fix spec.keyRef.' },
  TargetNotOffline: {
    means:
      'The target ManagedKey was not made by a RootKeyGeneration ceremony, so it has no activation authenticator.',
  },
  RootCertificateNotFound: {
    means: 'The root certificate ConfigMap of the root ceremony is missing.',
    todo: 'Restore it from the ceremony’s records.',
  },
  RootCertificateMismatch: {
    means: 'The certificate ConfigMap is not that of this root key (another ceremony or key).',
    todo: 'Restore the right certificate.',
  },
  TranscriptConflict: {
    means: 'The transcript ConfigMap does not continue the ceremony’s recorded chain (changed or replaced).',
    todo: 'Treat it as an incident; the ceremony stops.',
  },
  AlreadyDestroyed: { means: 'The ManagedKey the ceremony targets is already destroyed; nothing is done.' },
  VersionNotFound: {
    means: 'The ceremony names a version the ManagedKey does not have.',
    todo: 'Fix spec.target.version (omit it for the current version).',
  },
  NoBackup: {
    means: 'The version has no recovery backup: spec.recovery was not set when it was generated.',
    todo: 'Nothing can recover it; a key without a backup is never escrowed anywhere.',
  },
  BackupNotFound: {
    means:
      'The ConfigMap holding the version’s wrapped copy is missing or was retired (emptied when the version was destroyed).',
    todo: 'Restore the ConfigMap from the cluster’s backup (it is ciphertext), then create the ceremony again.',
  },
  BackupMismatch: {
    means:
      'The backup ConfigMap does not match what the ManagedKey’s status recorded (check value or KEK authenticator differ): it was changed or replaced.',
    todo: 'Treat it as an incident; restore the original ConfigMap from a backup.',
  },
  CustodianHoldsNoShare: {
    means:
      'A custodian the ceremony names (with that public key) was not given a share of this version’s KEK.',
    todo: 'Name the custodians the backup ConfigMap lists, with the keys they had at generation.',
  },
  BackendCannotRestore: {
    means: 'The KeyBackend to restore into cannot unwrap a recovery backup.',
    todo: 'Restore into a PKCS#11 KeyBackend whose status.capabilities shows recoveryWrap.',
  },
  DestructionIncomplete: {
    means:
      'A destruction ceremony found versions still in the token, or a backend that only schedules destruction.',
    todo: 'Check the token; run the ceremony against a backend that destroys at once.',
  },
  Destroyed: { means: 'Ready is False on the ManagedKey: every version was destroyed by a KeyCeremony.' },
  StepPending: { means: 'Event: a ceremony step is pending.' },
  StepRunning: { means: 'Event: a ceremony step started.' },
  StepDone: { means: 'Event: a ceremony step finished.' },
  StepSkipped: { means: 'Event: a ceremony step does not apply and was skipped.' },
  StepFailed: { means: 'Warning event: a ceremony step failed; the ceremony’s conditions say why.' },

  // KeyCeremonyApproval
  SignatureVerified: { means: 'The approval’s signature verified and counts toward the quorum.' },
  CeremonyNotReady: { means: 'The ceremony is not yet at the point where this approval can be checked.' },
  SignerNotInSpec: {
    means: 'The signer is not a custodian (or witness) of the ceremony.',
    todo: 'Only people the spec names can approve.',
  },
  SignerKeyUnusable: {
    means: 'The signer’s public key in the ceremony spec cannot be used.',
    todo: 'Fix the key in a new ceremony.',
  },
  WrongCeremony: { means: 'The approval names another ceremony.' },
  TranscriptNotSealed: {
    means: 'A witness signed before the transcript was sealed.',
    todo: 'Sign the transcript head once the ceremony has run.',
  },
  OtherCeremony: { means: 'The approval signs another ceremony’s challenge; approvals cannot be reused.' },
  DigestMismatch: {
    means: 'The approval signs a digest other than the ceremony’s challenge or transcript head.',
    todo: 'Sign the digest status shows.',
  },
  SignatureInvalid: {
    means: 'The signature does not verify with the signer’s public key.',
    todo: 'Sign the UTF-8 text of signedDigest with your own key.',
  },
  DuplicateApproval: { means: 'The signer already approved; each person counts once.' },
};
