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
  /** The user PIN, copied by the backend (the caller zeroes its own Buffer). Kept out of every message and log. */
  readonly pin: Buffer;
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
  const problem = pinProblem(config.pin);
  if (problem !== undefined) throw new MisconfiguredError(problem);
  const pinFormat = VENDOR_PROFILES[config.vendor].pinFormat;
  if (pinFormat !== undefined && !pinFormat.pattern.test(config.pin.toString('utf8'))) {
    throw new MisconfiguredError(
      `the PIN does not have the form ${config.vendor} expects: ${pinFormat.description}`,
    );
  }
  const maxSessions = config.maxSessions ?? DEFAULT_MAX_SESSIONS;
  if (!Number.isSafeInteger(maxSessions) || maxSessions < 1 || maxSessions > MAX_SESSIONS_LIMIT) {
    throw new MisconfiguredError(`maxSessions must be an integer from 1 to ${MAX_SESSIONS_LIMIT}`);
  }
}

const WHITESPACE = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20]);

/**
 * What is wrong with the PIN's shape, or undefined. Checked before any login: a PIN read from a Secret with a
 * trailing newline (`echo` instead of `echo -n`) would otherwise spend one of the HSM's few PIN retries. Says where
 * the problem is, never what the PIN holds.
 */
export function pinProblem(pin: Buffer): string | undefined {
  if (pin.length === 0) return 'the PIN is empty';
  if (WHITESPACE.has(pin[0] ?? 0) || WHITESPACE.has(pin[pin.length - 1] ?? 0)) {
    return 'the PIN starts or ends with whitespace (a newline from `echo`?); store it without, e.g. with `echo -n` or `kubectl create secret --from-literal`';
  }
  if (pin.some((byte) => byte < 0x20 || byte === 0x7f)) return 'the PIN contains control characters';
  return undefined;
}
