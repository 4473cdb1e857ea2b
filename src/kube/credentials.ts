// Who the operator is to the API server, asked afresh for every request: a client certificate, a bearer token
// (inline, from a file, or from an exec plugin) or basic auth. A token file is re-read every minute, as client-go
// does, because bound service account tokens rotate. Secrets are kept only here, and never put in a message.

import { readFileSync } from 'node:fs';

import { ExecPlugin } from './exec-plugin.ts';
import type { ExecClusterInfo } from './exec-plugin.ts';
import { KubeConfigError } from './kubeconfig-file.ts';
import type { UserEntry } from './kubeconfig-file.ts';

/** What authenticates one request: the Authorization header and the TLS client certificate. */
export interface RequestAuth {
  authorization?: string;
  cert?: string | Buffer;
  key?: string | Buffer;
}

export interface Credentials {
  current(): Promise<RequestAuth>;
  /** The API server answered 401 Unauthorized: credentials from an exec plugin are fetched again. */
  rejected(): void;
}

const tokenRereadMs = 60_000;

export const noCredentials: Credentials = {
  current: () => Promise.resolve({}),
  rejected: () => undefined,
};

/** The credentials of a kubeconfig user; certificate and key files are read now, token files when used. */
export function userCredentials(
  name: string,
  user: UserEntry,
  cluster: ExecClusterInfo,
  now: () => number,
): Credentials {
  if (user.authProvider !== undefined) {
    throw new KubeConfigError(
      `user "${name}" uses the auth-provider "${user.authProvider}", which Keyward does not support: ` +
        'configure an exec plugin (client.authentication.k8s.io) for it instead (kubectl dropped auth-providers in 1.26)',
    );
  }
  const fixed: RequestAuth = {};
  const cert = pem(user.clientCertificateData, user.clientCertificate, `user "${name}" client-certificate`);
  const key = pem(user.clientKeyData, user.clientKey, `user "${name}" client-key`);
  if ((cert === undefined) !== (key === undefined)) {
    throw new KubeConfigError(
      `user "${name}" has a client certificate without a key, or a key without a certificate`,
    );
  }
  if (cert !== undefined) Object.assign(fixed, { cert, key });
  if ((user.token !== undefined || user.tokenFile !== undefined) && user.username !== undefined) {
    throw new KubeConfigError(`user "${name}" sets both a token and a username: use one of them`);
  }
  if (user.token !== undefined) fixed.authorization = `Bearer ${user.token}`;
  if (user.username !== undefined) {
    fixed.authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}`;
  }
  const tokenFile =
    user.token === undefined && user.tokenFile !== undefined ? new TokenFile(user.tokenFile, now) : undefined;
  const exec = user.exec === undefined ? undefined : new ExecPlugin(name, user.exec, cluster, now);
  if (!tokenFile && !exec) return { current: () => Promise.resolve(fixed), rejected: () => undefined };
  return {
    current: async () => ({
      ...fixed,
      ...(tokenFile ? { authorization: `Bearer ${tokenFile.read()}` } : {}),
      ...(exec ? await exec.credential() : {}),
    }),
    rejected: () => exec?.forget(),
  };
}

/** A bearer token read from a file, again once the last read is a minute old. */
export class TokenFile {
  readonly path: string;
  readonly #now: () => number;
  #token: string | undefined;
  #readAt = 0;

  constructor(path: string, now: () => number) {
    this.path = path;
    this.#now = now;
  }

  read(): string {
    if (this.#token !== undefined && this.#now() - this.#readAt < tokenRereadMs) return this.#token;
    try {
      this.#token = readFileSync(this.path, 'utf8').trim();
      this.#readAt = this.#now();
    } catch (err) {
      // A failed re-read keeps the token read before (client-go does the same): it may still be valid.
      if (this.#token === undefined) throw err;
    }
    return this.#token;
  }
}

/** `data` (base64) if set, else the file's contents, else undefined. */
export function pem(data: string | undefined, file: string | undefined, what: string): Buffer | undefined {
  if (data !== undefined) return Buffer.from(data, 'base64');
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new KubeConfigError(`cannot read the ${what} file: ${reason}`);
  }
}
