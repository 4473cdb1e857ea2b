import pkcs11js from 'pkcs11js';
import type { BackendInfo } from '../backend.ts';
import { MisconfiguredError, TokenNotFoundError } from '../errors.ts';
import type { TokenSelector } from './config.ts';
import { toBackendError } from './errors.ts';

export interface FoundToken {
  readonly slot: pkcs11js.Handle;
  readonly info: BackendInfo;
  /** CKF_* token flags (login state, PIN counters). */
  readonly flags: number;
}

/** A slot handle is a CK_SLOT_ID (CK_ULONG) in native byte order. */
export function slotNumber(slot: pkcs11js.Handle): number {
  return slot.length >= 8 ? Number(slot.readBigUInt64LE()) : slot.readUInt32LE();
}

export function tokenInfo(info: pkcs11js.TokenInfo): BackendInfo {
  return {
    manufacturer: info.manufacturerID.trim(),
    model: info.model.trim(),
    serial: info.serialNumber.trim(),
    tokenLabel: info.label.trim(),
    firmwareVersion: `${info.firmwareVersion.major}.${info.firmwareVersion.minor}`,
  };
}

function matches(selector: TokenSelector, slot: pkcs11js.Handle, info: BackendInfo): boolean {
  if ('label' in selector) return info.tokenLabel === selector.label;
  if ('serial' in selector) return info.serial === selector.serial;
  return slotNumber(slot) === selector.slotId;
}

function describeSelector(selector: TokenSelector): string {
  if ('label' in selector) return `label "${selector.label}"`;
  if ('serial' in selector) return `serial "${selector.serial}"`;
  return `slot id ${selector.slotId}`;
}

/** Finds the one initialized token the selector names, or explains which tokens there are. */
export function findToken(pkcs11: pkcs11js.PKCS11, modulePath: string, selector: TokenSelector): FoundToken {
  const present: FoundToken[] = [];
  try {
    for (const slot of pkcs11.C_GetSlotList(true)) {
      const raw = pkcs11.C_GetTokenInfo(slot);
      if ((raw.flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0)
        present.push({ slot, info: tokenInfo(raw), flags: raw.flags });
    }
  } catch (error) {
    throw toBackendError(error, 'list the tokens');
  }
  const found = present.filter((token) => matches(selector, token.slot, token.info));
  if (found.length > 1) {
    throw new MisconfiguredError(
      `${found.length} tokens have ${describeSelector(selector)} in ${modulePath}; select the token by serial`,
    );
  }
  const [token] = found;
  if (token === undefined) {
    const known = present.map((t) => `"${t.info.tokenLabel}" (serial ${t.info.serial})`).join(', ') || 'none';
    throw new TokenNotFoundError(
      `no initialized token with ${describeSelector(selector)} in ${modulePath}; tokens present: ${known}`,
    );
  }
  return token;
}
