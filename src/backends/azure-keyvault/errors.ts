// Key Vault and Microsoft Entra ID failures as BackendErrors. Messages are built here from the status, Key Vault's
// error code and message and the Entra ID error code: never from the SDK's request (its headers carry the bearer
// token), and SDK errors are not chained as causes for the same reason.

import {
  AuthenticationError,
  AuthenticationRequiredError,
  CredentialUnavailableError,
} from '@azure/identity';
import {
  AlreadyExistsError,
  type BackendError,
  MisconfiguredError,
  NotFoundError,
  PermissionDeniedError,
  RetryableError,
  UnsupportedError,
  isBackendError,
} from '../errors.ts';

/** Key Vault's inner error codes for a key that exists but may not do this now. */
export const KEY_STATE_REFUSALS = ['KeyDisabled', 'OperationNotAllowed'] as const;

interface ServiceError {
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly inner: string | undefined;
  readonly message: string;
}

interface ErrorBody {
  readonly error?: {
    readonly code?: string;
    readonly message?: string;
    // The REST API says innererror; the SDK's deserializer renames it.
    readonly innererror?: { readonly code?: string };
    readonly innerError?: { readonly code?: string };
  };
}

function parsedBody(details: unknown, text: string | undefined): ErrorBody {
  if (typeof details === 'object' && details !== null && 'error' in details) return details as never;
  try {
    return text ? (JSON.parse(text) as never) : {};
  } catch {
    return {};
  }
}

/** The SDK's RestError, recognized by shape: it comes from a runtime package that is not a direct dependency. */
interface RestErrorShape {
  readonly name: 'RestError';
  readonly statusCode?: number;
  readonly code?: string;
  readonly details?: unknown;
  readonly response?: { readonly bodyAsText?: string | null };
}

function isRestError(error: unknown): error is RestErrorShape {
  return error instanceof Error && error.name === 'RestError';
}

export function serviceError(error: unknown): ServiceError | undefined {
  if (!isRestError(error)) return undefined;
  const body = parsedBody(error.details, error.response?.bodyAsText ?? undefined);
  return {
    status: error.statusCode,
    code: body.error?.code ?? error.code,
    inner: body.error?.innerError?.code ?? body.error?.innererror?.code,
    message: body.error?.message ?? '',
  };
}

export function isNotFound(error: unknown): boolean {
  return serviceError(error)?.status === 404;
}

export function isKeyStateRefusal(error: unknown): boolean {
  const inner = serviceError(error)?.inner;
  return inner !== undefined && (KEY_STATE_REFUSALS as readonly string[]).includes(inner);
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

/**
 * `what` names the operation and the vault, e.g. `create key keyward-ab12 in vault "kw"`; `who` the credential.
 */
export function toBackendError(error: unknown, what: string, who: string): BackendError {
  if (isBackendError(error)) return error;
  if (isAbort(error)) return new RetryableError(`${what}: the call was aborted or timed out`);
  if (error instanceof CredentialUnavailableError) {
    return new MisconfiguredError(
      `${what}: no credential for the vault: ${who} is not available (no Secret is set, and neither workload identity nor a managed identity answered)`,
    );
  }
  if (error instanceof AuthenticationError) {
    const reason = error.errorResponse.error || 'refused';
    const code = /AADSTS\d+/.exec(error.errorResponse.errorDescription)?.[0];
    const message = `${what}: Microsoft Entra ID refused ${who} (${reason}${code ? `, ${code}` : ''})`;
    return error.statusCode >= 500 || error.statusCode === 429
      ? new RetryableError(message)
      : new PermissionDeniedError(message);
  }
  if (error instanceof AuthenticationRequiredError) {
    // MSAL's message starts with the OAuth error code and quotes the Entra ID description; only codes are kept.
    const reason = /^([a-z_]+):/.exec(error.message)?.[1] ?? 'refused';
    const code = /AADSTS\d+/.exec(error.message)?.[0];
    return new PermissionDeniedError(
      `${what}: Microsoft Entra ID refused ${who} (${reason}${code ? `, ${code}` : ''})`,
    );
  }
  const service = serviceError(error);
  if (service === undefined) {
    return new RetryableError(`${what}: ${error instanceof Error ? error.name : 'failed'}`);
  }
  const detail = [service.status, service.code, service.inner].filter((part) => part !== undefined).join(' ');
  const message = `${what}: ${detail}${service.message ? `: ${service.message}` : ''}`;
  const status = service.status;
  if (status === undefined) return new RetryableError(message); // no answer: connection refused, reset, DNS
  if (status === 401)
    return new PermissionDeniedError(`${what}: the vault refused the token of ${who} (${detail})`);
  if (status === 403) {
    return isKeyStateRefusal(error)
      ? new PermissionDeniedError(message)
      : new PermissionDeniedError(`${message} (grant ${who} the key permissions or RBAC role it needs)`);
  }
  if (status === 404) return new NotFoundError(message);
  if (status === 409) return new AlreadyExistsError(message);
  if (status === 408 || status === 429 || status >= 500) return new RetryableError(message);
  if (status === 400) return new UnsupportedError(message);
  return new MisconfiguredError(message);
}
