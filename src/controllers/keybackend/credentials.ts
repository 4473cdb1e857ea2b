// Reads the Secrets a backend needs. The values become Buffers that the caller zeroes once the backend connected;
// what is reported when a Secret cannot be used names the Secret and the key, never a value.
import type { Credentials, SecretReference } from '../../backends/credentials.ts';
import type { ApiAccess } from '../../kube/access.ts';
import type { KubeClient } from '../../kube/client.ts';
import { isForbidden, isNotFound } from '../../kube/errors.ts';
import type { KubeObject } from '../../kube/object.ts';
import { builtinResources } from '../../kube/resource.ts';
import type { Unavailable } from './connections.ts';

interface Secret extends KubeObject {
  data?: Record<string, string>;
}

export type CredentialsRead =
  | { readonly credentials: Credentials; readonly version: string }
  | { readonly unavailable: Unavailable; readonly version: string };

/** Secrets are only ever read, one by name: creating one can mint a ServiceAccount token. */
export const credentialAccess: ApiAccess = { resource: builtinResources.secrets, verbs: ['get'] };

/**
 * The value of each referenced Secret key, and a version string that changes whenever one of the Secrets does (a
 * connection is kept per version). A missing Secret or key waits for a change; an unreadable one (403) too, since
 * only an RBAC change helps.
 */
export async function readCredentials(
  client: KubeClient,
  references: Readonly<Record<string, SecretReference>>,
): Promise<CredentialsRead> {
  const credentials = new Map<string, Buffer>();
  const versions: string[] = [];
  for (const [name, reference] of Object.entries(references)) {
    const where = `Secret ${reference.namespace}/${reference.name}`;
    const fail = (reason: string, message: string, version: string): CredentialsRead => {
      for (const value of credentials.values()) value.fill(0);
      return {
        version: [...versions, version].join(','),
        unavailable: { reason, message, transient: false },
      };
    };
    let secret: Secret;
    try {
      secret = await client.get<Secret>(builtinResources.secrets, reference.name, reference.namespace);
    } catch (error) {
      if (isNotFound(error)) return fail('SecretNotFound', `${where} does not exist`, 'absent');
      if (isForbidden(error)) {
        return fail(
          'SecretUnreadable',
          `the operator may not read ${where} (403 Forbidden): grant its ServiceAccount get on that Secret`,
          'forbidden',
        );
      }
      throw error;
    }
    const version = secret.metadata.resourceVersion ?? '';
    const encoded = secret.data?.[reference.key];
    if (encoded === undefined)
      return fail('SecretKeyNotFound', `${where} has no key "${reference.key}"`, version);
    credentials.set(name, Buffer.from(encoded, 'base64'));
    versions.push(version);
  }
  return { credentials, version: versions.join(',') };
}
