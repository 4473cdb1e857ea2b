// The KeyManagementServiceClient a KeyBackend's spec.gcpKMS describes: Google's endpoint or an override, and
// either a service account key from a Secret or Application Default Credentials (GKE workload identity).

import { credentials as grpcCredentials } from '@grpc/grpc-js';
import { KeyManagementServiceClient } from '@google-cloud/kms';
import { GoogleAuth, googleAuthLibrary } from 'google-gax';
import type { GcpKmsBackend as GcpKmsSpec } from '../../api/v1alpha1/keybackend.ts';
import { type Credentials } from '../credentials.ts';
import { MisconfiguredError } from '../errors.ts';

/** The name under which the factory asks for the service account key Secret. */
export const SERVICE_ACCOUNT_KEY = 'serviceAccountKey';

const LOOPBACK = new Set(['127.0.0.1', '::1', '[::1]', 'localhost']);

interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly plaintext: boolean;
}

/** `host:port`, `https://host:port` (TLS) or `http://host:port` (plaintext, loopback only). */
export function parseEndpoint(endpoint: string): Endpoint {
  const plaintext = endpoint.startsWith('http://');
  const hostPort = endpoint.replace(/^https?:\/\//, '');
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostPort);
  if (!match?.[1]) throw new MisconfiguredError(`the Cloud KMS endpoint "${endpoint}" is not host:port`);
  const host = match[1];
  const port = match[2] === undefined ? 443 : Number(match[2]);
  if (plaintext && !LOOPBACK.has(host)) {
    throw new MisconfiguredError(
      `the Cloud KMS endpoint "${endpoint}" is plaintext (http://); that is only allowed on a loopback address`,
    );
  }
  return { host: host.replace(/^\[|\]$/g, ''), port, plaintext };
}

const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

/**
 * An auth client for the service account key in the Secret. Only a key of type service_account is accepted and
 * only its email and private key are used (a credential configuration of another type could make the client fetch
 * tokens from, or run, whatever it names). google-auth-library keeps the key as a string, so that copy cannot be
 * zeroed; the Secret's Buffer is zeroed by the caller.
 */
function serviceAccountAuth(value: Buffer, projectId: string): GoogleAuth {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch {
    throw new MisconfiguredError('the service account key Secret does not hold JSON (a key file from IAM)');
  }
  const key = parsed as Partial<Record<'type' | 'client_email' | 'private_key', unknown>>;
  if (
    key.type !== 'service_account' ||
    typeof key.client_email !== 'string' ||
    typeof key.private_key !== 'string'
  ) {
    throw new MisconfiguredError(
      'the service account key Secret is not a service account key file (type service_account, client_email, private_key)',
    );
  }
  const authClient = new googleAuthLibrary.JWT({
    email: key.client_email,
    key: key.private_key,
    scopes: [SCOPE],
  });
  return new GoogleAuth({ authClient, projectId, scopes: [SCOPE] });
}

export function createClient(spec: GcpKmsSpec, credentials: Credentials): KeyManagementServiceClient {
  const secret = credentials.get(SERVICE_ACCOUNT_KEY);
  const endpoint = spec.endpoint === undefined ? undefined : parseEndpoint(spec.endpoint);
  // A plaintext channel sends no credentials at all, so ADC is not looked for (that probes the GCE metadata server).
  const auth =
    secret !== undefined
      ? serviceAccountAuth(secret, spec.project)
      : endpoint?.plaintext
        ? new GoogleAuth({ authClient: new googleAuthLibrary.OAuth2Client(), projectId: spec.project })
        : undefined;
  return new KeyManagementServiceClient({
    projectId: spec.project,
    ...(auth === undefined ? {} : { auth }),
    ...(endpoint === undefined
      ? {}
      : {
          apiEndpoint: endpoint.host,
          port: endpoint.port,
          ...(endpoint.plaintext ? { sslCreds: grpcCredentials.createInsecure() } : {}),
        }),
  });
}
