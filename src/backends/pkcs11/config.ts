import { MisconfiguredError } from '../errors.ts';
import { VENDOR_PROFILES } from './vendors.ts';

import { PKCS11_VENDORS } from '../../api/v1alpha1/keybackend.ts';

export { PKCS11_VENDORS };
export type Pkcs11Vendor = (typeof PKCS11_VENDORS)[number];

/** Which token to use. Prefer label or serial: some modules (SoftHSM) renumber slots. */
export type TokenSelector =
  { readonly label: string } | { readonly serial: string } | { readonly slotId: number };

/** Plain configuration of a PKCS#11 backend (the controller builds it from the KeyBackend and its PIN Secret). */
export interface Pkcs11Config {
  /** Path of the PKCS#11 module; defaults to the first of the vendor's usual paths that exists. */
  readonly modulePath?: string;
  readonly vendor: Pkcs11Vendor;
  readonly token: TokenSelector;
  /** The user PIN. Kept out of every message, log and inspectable field. */
  readonly pin: string;
  /** Upper bound on open sessions (default 4). */
  readonly maxSessions?: number;
}

export const DEFAULT_MAX_SESSIONS = 4;
const MAX_SESSIONS_LIMIT = 256;

/** Throws MisconfiguredError when the configuration cannot work; never echoes the PIN. */
export function validatePkcs11Config(config: Pkcs11Config): void {
  if (!(PKCS11_VENDORS as readonly string[]).includes(config.vendor)) {
    throw new MisconfiguredError(
      `unknown PKCS#11 vendor "${config.vendor}"; use one of ${PKCS11_VENDORS.join(', ')}`,
    );
  }
  const selectors = Object.keys(config.token).filter((key) => ['label', 'serial', 'slotId'].includes(key));
  if (selectors.length !== 1) {
    throw new MisconfiguredError('token must name exactly one of label, serial or slotId');
  }
  if ('slotId' in config.token && !(Number.isSafeInteger(config.token.slotId) && config.token.slotId >= 0)) {
    throw new MisconfiguredError('token.slotId must be a non-negative integer');
  }
  if ('label' in config.token && config.token.label === '') {
    throw new MisconfiguredError('token.label must not be empty');
  }
  if ('serial' in config.token && config.token.serial === '') {
    throw new MisconfiguredError('token.serial must not be empty');
  }
  if (config.pin === '') {
    throw new MisconfiguredError('the PIN is empty');
  }
  const pinFormat = VENDOR_PROFILES[config.vendor].pinFormat;
  if (pinFormat !== undefined && !pinFormat.pattern.test(config.pin)) {
    throw new MisconfiguredError(
      `the PIN does not have the form ${config.vendor} expects: ${pinFormat.description}`,
    );
  }
  const maxSessions = config.maxSessions ?? DEFAULT_MAX_SESSIONS;
  if (!Number.isSafeInteger(maxSessions) || maxSessions < 1 || maxSessions > MAX_SESSIONS_LIMIT) {
    throw new MisconfiguredError(`maxSessions must be an integer from 1 to ${MAX_SESSIONS_LIMIT}`);
  }
}
