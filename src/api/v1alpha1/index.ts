// keyward.io/v1alpha1: every kind of this API version.
import { KeyBackend } from './keybackend.ts';
import { KeyCeremony } from './keyceremony.ts';
import { KeyCeremonyApproval } from './keyceremonyapproval.ts';
import { ManagedKey } from './managedkey.ts';

export * from './keybackend.ts';
export * from './managedkey.ts';
export * from './keyceremony.ts';
export * from './keyceremonyapproval.ts';
export * from './conditions.ts';

/** Every kind, in the order the CRDs are written and installed. */
export const RESOURCES = [KeyBackend, ManagedKey, KeyCeremony, KeyCeremonyApproval] as const;
