// AWS credentials from a Secret holding an AWS shared credentials file (the format of ~/.aws/credentials), for
// clusters without workload identity. Without such a Secret the SDK's default provider chain is used (environment,
// IRSA web identity, EKS Pod Identity, instance profile).
//
// The SDK signs requests with string credentials, so the strings live as long as the client does; the Buffer the
// Secret came in is zeroed by the caller once the backend is open.

import { MisconfiguredError } from '../errors.ts';

export interface AwsStaticCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** Profile name -> its key/value lines. */
function profiles(text: string): Map<string, Map<string, string>> {
  const found = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
    if (header?.[1] !== undefined) {
      current = new Map();
      found.set(header[1], current);
      continue;
    }
    const equals = line.indexOf('=');
    if (current === undefined || equals < 0) {
      throw new MisconfiguredError('the AWS credentials Secret is not an AWS shared credentials file');
    }
    current.set(line.slice(0, equals).trim().toLowerCase(), line.slice(equals + 1).trim());
  }
  return found;
}

/**
 * The `default` profile, or the only profile when there is one. Messages name the missing field, never a value.
 */
export function parseSharedCredentials(file: Buffer): AwsStaticCredentials {
  const all = profiles(file.toString('utf8'));
  const profile = all.get('default') ?? (all.size === 1 ? [...all.values()][0] : undefined);
  if (profile === undefined) {
    throw new MisconfiguredError(
      all.size === 0
        ? 'the AWS credentials Secret holds no profile'
        : 'the AWS credentials Secret holds several profiles and none is [default]',
    );
  }
  const accessKeyId = profile.get('aws_access_key_id');
  const secretAccessKey = profile.get('aws_secret_access_key');
  if (!accessKeyId || !secretAccessKey) {
    throw new MisconfiguredError(
      'the AWS credentials Secret needs aws_access_key_id and aws_secret_access_key in its profile',
    );
  }
  const sessionToken = profile.get('aws_session_token');
  return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
}
