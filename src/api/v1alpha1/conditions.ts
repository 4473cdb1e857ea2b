// Condition types and reasons that Keyward sets. Reasons are CamelCase identifiers that tools can match on; the
// message beside each reason is written for a person.

export const ConditionType = {
  Ready: 'Ready',
  BackendReady: 'BackendReady',
  Distributed: 'Distributed',
  Rotating: 'Rotating',
  QuorumReached: 'QuorumReached',
  Witnessed: 'Witnessed',
  /** False while an archived version is missing from the backend (the current one is fine). */
  VersionsIntact: 'VersionsIntact',
  /** spec.recovery: True when every version that exists has its recovery backup. */
  Recoverable: 'Recoverable',
  /** False while the spec asks for something this version of Keyward does not do yet. */
  SpecInEffect: 'SpecInEffect',
  /** kstatus's: True while the object failed for good (a Failed ManagedKey, a Failed or Expired KeyCeremony). */
  Stalled: 'Stalled',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

/** Reasons of the ManagedKey conditions (Ready, BackendReady, Rotating, Distributed) and its Warning events. */
export const KeyReason = {
  KeyReady: 'KeyReady',
  KeyMissing: 'KeyMissing',
  FingerprintMismatch: 'FingerprintMismatch',
  UnrecordedVersions: 'UnrecordedVersions',
  TargetMismatch: 'TargetMismatch',
  PendingGeneration: 'PendingGeneration',
  PendingDestruction: 'PendingDestruction',
  /** A spec field this version of Keyward does not act on (named in the message); the rest of the key works. */
  SpecNotInEffect: 'SpecNotInEffect',
  /** The backend cannot wrap a key for recovery; nothing is generated. */
  RecoveryUnsupported: 'RecoveryUnsupported',
  /** Every version has its recovery backup. */
  BackedUp: 'BackedUp',
  /** A version has no recovery backup (its wrapped copy was never stored). */
  BackupMissing: 'BackupMissing',
  /** deletionPolicy Destroy with destroyRequiresCeremony: waiting for a KeyDestruction ceremony. */
  AwaitingDestructionCeremony: 'AwaitingDestructionCeremony',
  BackendNotReady: 'BackendNotReady',
} as const;
