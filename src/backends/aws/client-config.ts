// What every AWS client Keyward makes has in common: region, endpoint override, credentials (a Secret, or the
// default provider chain: environment, IRSA web identity, EKS Pod Identity, instance profile), bounded connection and
// request times, and the SDK's standard retry mode, which retries throttling (ThrottlingException, HTTP 429) and 5xx
// with exponential backoff and jitter, honouring Retry-After and x-amz-retry-after.

import type { CallOptions } from '../backend.ts';
import { type Credentials, type SecretReference, requireCredential } from '../credentials.ts';
import { toBackendError } from './errors.ts';
import { type AwsStaticCredentials, parseSharedCredentials } from './shared-credentials.ts';

/** The name under which a BackendFactory asks for the AWS credentials Secret. */
export const AWS_CREDENTIALS = 'awsCredentials';

/** Attempts per call, the first included; the SDK's default is 3. */
export const AWS_MAX_ATTEMPTS = 5;

/** No single call (its retries included) runs longer than this, whatever the caller's signal says. */
export const AWS_CALL_DEADLINE_MS = 60_000;

export interface AwsConnection {
  readonly region: string;
  readonly endpoint?: string;
  readonly credentialsSecretRef?: SecretReference;
}

/** What a BackendFactory's credentials() returns for an AWS spec: the Secret when one is named, else none. */
export function awsCredentialReferences(spec: AwsConnection): Readonly<Record<string, SecretReference>> {
  return spec.credentialsSecretRef === undefined ? {} : { [AWS_CREDENTIALS]: spec.credentialsSecretRef };
}

export interface AwsClientConfig {
  readonly region: string;
  readonly endpoint?: string;
  readonly credentials?: AwsStaticCredentials;
  readonly maxAttempts: number;
  readonly retryMode: 'standard';
  readonly requestHandler: { readonly connectionTimeout: number; readonly requestTimeout: number };
}

/** The client configuration for a KeyBackend's AWS part and the Secrets its factory asked for. */
export function awsClientConfig(spec: AwsConnection, credentials: Credentials): AwsClientConfig {
  const base = {
    region: spec.region,
    maxAttempts: AWS_MAX_ATTEMPTS,
    retryMode: 'standard' as const,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 20_000 },
    ...(spec.endpoint === undefined ? {} : { endpoint: spec.endpoint }),
  };
  if (spec.credentialsSecretRef === undefined) return base;
  const file = requireCredential(credentials, AWS_CREDENTIALS, 'the AWS credentials Secret');
  return { ...base, credentials: parseSharedCredentials(file) };
}

/**
 * Runs one SDK call with the caller's signal and the call deadline, and maps what it throws. `what` names the
 * operation in messages, e.g. `KMS CreateKey`.
 */
export async function awsCall<T>(
  what: string,
  options: CallOptions | undefined,
  send: (abortSignal: AbortSignal) => Promise<T>,
): Promise<T> {
  const signals = [AbortSignal.timeout(AWS_CALL_DEADLINE_MS)];
  if (options?.signal) signals.push(options.signal);
  const signal = AbortSignal.any(signals);
  if (signal.aborted) throw toBackendError(what, signal.reason, true);
  try {
    return await send(signal);
  } catch (error) {
    throw toBackendError(what, error, signal.aborted);
  }
}
