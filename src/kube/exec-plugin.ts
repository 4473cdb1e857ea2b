// Credentials from an exec plugin (client.authentication.k8s.io v1 and v1beta1), run as kubectl runs it: the
// command with its args and env and KUBERNETES_EXEC_INFO; its ExecCredential's token or client certificate is
// kept until status.expirationTimestamp (or a 401), then the command runs again. The plugin's stderr goes to ours,
// as with kubectl; what it prints on stdout (the credential) never goes into a message.

import { spawn } from 'node:child_process';

import type { RequestAuth } from './credentials.ts';
import { KubeConfigError } from './kubeconfig-file.ts';
import type { ExecConfig } from './kubeconfig-file.ts';

/** The cluster as the plugin sees it in KUBERNETES_EXEC_INFO when provideClusterInfo is set. */
export interface ExecClusterInfo {
  server: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
}

/** A plugin that never finishes would hold every request; kubectl has no limit, but nobody watches an operator. */
const runTimeoutMs = 60_000;

interface ExecCredentialStatus {
  token?: unknown;
  clientCertificateData?: unknown;
  clientKeyData?: unknown;
  expirationTimestamp?: unknown;
}

export class ExecPlugin {
  readonly #user: string;
  readonly #config: ExecConfig;
  readonly #cluster: ExecClusterInfo;
  readonly #now: () => number;
  #cached: { auth: RequestAuth; expiresAt: number | undefined } | undefined;
  #running: Promise<RequestAuth> | undefined;

  constructor(user: string, config: ExecConfig, cluster: ExecClusterInfo, now: () => number) {
    if (config.interactiveMode === 'Always') {
      throw new KubeConfigError(
        `the exec plugin of user "${user}" needs a terminal (interactiveMode: Always), which an operator does not have`,
      );
    }
    this.#user = user;
    this.#config = config;
    this.#cluster = cluster;
    this.#now = now;
  }

  /** The cached credential, or a new one from the plugin (one run at a time, shared by concurrent requests). */
  credential(): Promise<RequestAuth> {
    const cached = this.#cached;
    if (cached && (cached.expiresAt === undefined || this.#now() < cached.expiresAt)) {
      return Promise.resolve(cached.auth);
    }
    this.#running ??= this.#fetch().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  forget(): void {
    this.#cached = undefined;
  }

  async #fetch(): Promise<RequestAuth> {
    this.#cached = this.#parse(await this.#run());
    return this.#cached.auth;
  }

  #run(): Promise<string> {
    const { apiVersion, command, args, provideClusterInfo } = this.#config;
    const execInfo = {
      apiVersion,
      kind: 'ExecCredential',
      spec: { interactive: false, ...(provideClusterInfo ? { cluster: this.#cluster } : {}) },
    };
    const env = {
      ...process.env,
      ...Object.fromEntries(this.#config.env.map(({ name, value }) => [name, value])),
      KUBERNETES_EXEC_INFO: JSON.stringify(execInfo),
    };
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
      // Not spawn's own `timeout`: its timer outlives a command that could not be started.
      const timer = setTimeout(() => child.kill(), runTimeoutMs);
      const stdout: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const hint = this.#config.installHint ? `: ${this.#config.installHint}` : '';
        reject(this.#error(`cannot be run (${err.code ?? err.message})${hint}`));
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(Buffer.concat(stdout).toString('utf8'));
        else if (signal)
          reject(this.#error(`was stopped by ${signal} (it has ${runTimeoutMs / 1000} s to finish)`));
        else reject(this.#error(`exited with code ${String(code)}`));
      });
    });
  }

  #parse(stdout: string): { auth: RequestAuth; expiresAt: number | undefined } {
    let credential: { apiVersion?: unknown; kind?: unknown; status?: ExecCredentialStatus } | null;
    try {
      credential = JSON.parse(stdout) as typeof credential;
    } catch {
      // Not the parser's message: it quotes the output.
      throw this.#error('printed something that is not JSON');
    }
    if (credential?.kind !== 'ExecCredential') throw this.#error('did not print an ExecCredential');
    if (credential.apiVersion !== this.#config.apiVersion) {
      throw this.#error(`printed an ExecCredential whose apiVersion is not ${this.#config.apiVersion}`);
    }
    const {
      token,
      clientCertificateData: cert,
      clientKeyData: key,
      expirationTimestamp,
    } = credential.status ?? {};
    const auth: RequestAuth = {};
    if (typeof token === 'string' && token !== '') auth.authorization = `Bearer ${token}`;
    if (typeof cert === 'string' && typeof key === 'string' && cert !== '' && key !== '') {
      Object.assign(auth, { cert, key });
    } else if (cert || key) {
      throw this.#error('printed status.clientCertificateData or status.clientKeyData without the other');
    }
    if (auth.authorization === undefined && auth.cert === undefined) {
      throw this.#error('printed an ExecCredential with neither status.token nor a client certificate');
    }
    if (expirationTimestamp === undefined) return { auth, expiresAt: undefined };
    const expiresAt = typeof expirationTimestamp === 'string' ? Date.parse(expirationTimestamp) : NaN;
    if (Number.isNaN(expiresAt)) throw this.#error('printed a status.expirationTimestamp that is not a time');
    return { auth, expiresAt };
  }

  #error(what: string): KubeConfigError {
    return new KubeConfigError(`the exec plugin of user "${this.#user}" (${this.#config.command}) ${what}`);
  }
}
