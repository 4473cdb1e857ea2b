// Initialises a fresh token for an offline root (a RootKeyGeneration ceremony): C_InitToken on a slot whose token is
// not initialised yet, then C_InitPIN as the security officer. Never touches an initialised token, and refuses a
// label another token already has, so that a ceremony can never overwrite a token or make a second one by that name.
//
// pkcs11js takes PINs as strings, so each PIN exists as a string for the length of one call (docs/ceremonies.md).
import pkcs11js from 'pkcs11js';
import { AlreadyExistsError, TokenNotFoundError } from '../errors.ts';
import { toBackendError } from './errors.ts';
import { openProbedModule } from './module.ts';
import { slotNumber, tokenInfo } from './token.ts';

const LABEL_BYTES = 32;

export interface TokenInitRequest {
  readonly modulePath: string;
  /** At most 32 characters (CK_TOKEN_INFO label). */
  readonly label: string;
  readonly soPin: Buffer;
  readonly userPin: Buffer;
}

export interface InitializedToken {
  readonly slotId: number;
  readonly serial: string;
  readonly manufacturer: string;
  readonly model: string;
}

export interface SlotSurvey {
  /** The label is already taken by an initialised token (its serial). */
  readonly labelTakenBy?: string;
  /** A slot whose token can be initialised. */
  readonly free?: pkcs11js.Handle;
}

function survey(pkcs11: pkcs11js.PKCS11, label: string): SlotSurvey {
  let free: pkcs11js.Handle | undefined;
  for (const slot of pkcs11.C_GetSlotList(true)) {
    const raw = pkcs11.C_GetTokenInfo(slot);
    if ((raw.flags & pkcs11js.CKF_TOKEN_INITIALIZED) === 0) free ??= slot;
    else if (tokenInfo(raw).tokenLabel === label) return { labelTakenBy: tokenInfo(raw).serial };
  }
  return free === undefined ? {} : { free };
}

/** Whether a token with this label exists (an interrupted ceremony may have initialised it). */
export async function findInitializedToken(modulePath: string, label: string): Promise<string | undefined> {
  const lease = await openProbedModule(modulePath);
  try {
    return survey(lease.pkcs11, label).labelTakenBy;
  } catch (error) {
    throw toBackendError(error, 'list the tokens');
  } finally {
    lease.release();
  }
}

export async function initializeToken(request: TokenInitRequest): Promise<InitializedToken> {
  const lease = await openProbedModule(request.modulePath);
  const { pkcs11 } = lease;
  try {
    const found = survey(pkcs11, request.label);
    if (found.labelTakenBy !== undefined) {
      throw new AlreadyExistsError(
        `a token labelled "${request.label}" already exists (serial ${found.labelTakenBy}); a ceremony never re-initialises a token`,
      );
    }
    if (found.free === undefined) {
      throw new TokenNotFoundError(
        `no slot of ${lease.path} has an uninitialised token to give to the ceremony`,
      );
    }
    const slot = found.free;
    try {
      // CK_TOKEN_INFO labels are 32 bytes padded with blanks; pkcs11js would copy the string's NUL terminator.
      pkcs11.C_InitToken(slot, request.soPin.toString('utf8'), request.label.padEnd(LABEL_BYTES, ' '));
    } catch (error) {
      throw toBackendError(error, 'initialise the token');
    }
    const session = pkcs11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      pkcs11.C_Login(session, pkcs11js.CKU_SO, request.soPin.toString('utf8'));
      pkcs11.C_InitPIN(session, request.userPin.toString('utf8'));
      pkcs11.C_Logout(session);
    } catch (error) {
      throw toBackendError(error, 'set the user PIN of the new token');
    } finally {
      pkcs11.C_CloseSession(session);
    }
    const info = tokenInfo(pkcs11.C_GetTokenInfo(slot));
    return {
      slotId: slotNumber(slot),
      serial: info.serial,
      manufacturer: info.manufacturer,
      model: info.model,
    };
  } finally {
    lease.release();
  }
}
