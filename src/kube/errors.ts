// API errors as values: the HTTP status and the Status reason the API server sent, and helpers to classify
// them. Error messages carry the API server's message and the request path, never a request or response body.

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: { reason?: string; message?: string; field?: string }[];
}

export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  readonly statusCode: number;
  /** metav1.StatusReason: NotFound, Conflict, AlreadyExists, Expired, Gone, Invalid, ... */
  readonly reason: string | undefined;
  readonly details: StatusDetails | undefined;

  constructor(statusCode: number, message: string, reason?: string, details?: StatusDetails) {
    super(message);
    this.statusCode = statusCode;
    this.reason = reason;
    this.details = details;
  }
}

/** The HTTP status code of an API error (ours, any error with a numeric `statusCode`, or a watch ERROR Status). */
export function statusCode(err: unknown): number | undefined {
  if (err instanceof KubeApiError) return err.statusCode;
  if (typeof err !== 'object' || err === null) return undefined;
  const candidate = err as { statusCode?: unknown; code?: unknown };
  if (typeof candidate.statusCode === 'number') return candidate.statusCode;
  if (typeof candidate.code === 'number') return candidate.code;
  return undefined;
}

function reasonOf(err: unknown): string | undefined {
  return err instanceof KubeApiError ? err.reason : undefined;
}

export function isNotFound(err: unknown): boolean {
  return statusCode(err) === 404;
}

/** A write lost an optimistic-concurrency race (stale resourceVersion or a failed precondition). */
export function isConflict(err: unknown): boolean {
  return statusCode(err) === 409 && reasonOf(err) !== 'AlreadyExists';
}

export function isAlreadyExists(err: unknown): boolean {
  return statusCode(err) === 409 && reasonOf(err) === 'AlreadyExists';
}

/** The resourceVersion asked for is too old (410 Gone / Expired): relist. */
export function isGone(err: unknown): boolean {
  return statusCode(err) === 410;
}

/** The request was rejected as invalid (422), e.g. a JSON Patch `test` op that did not hold. */
export function isInvalid(err: unknown): boolean {
  return statusCode(err) === 422;
}

/** The request was refused by authorization (403): RBAC does not allow it. */
export function isForbidden(err: unknown): boolean {
  return statusCode(err) === 403;
}
