// Where the operator's API server credentials come from, in controller-runtime's order: an explicit
// kubeconfig path, $KUBECONFIG, the in-cluster service account, then ~/.kube/config.

import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';

import { YAMLException, load } from 'js-yaml';

import { TokenFile, noCredentials, pem, userCredentials } from './credentials.ts';
import type { Credentials } from './credentials.ts';
import type { ExecClusterInfo } from './exec-plugin.ts';
import { KubeConfigError, mergeKubeconfigs, parseKubeconfig } from './kubeconfig-file.ts';
import type { Kubeconfig } from './kubeconfig-file.ts';

export { KubeConfigError } from './kubeconfig-file.ts';

const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';

/** How the API server is trusted; spreads into node:https request options. */
export interface ServerTls {
  ca?: Buffer | undefined;
  servername?: string | undefined;
  rejectUnauthorized: boolean;
}

/** The TLS options and headers of one request to the API server; spreads into node:https request options. */
export interface KubeRequestOptions extends ServerTls {
  cert?: string | Buffer | undefined;
  key?: string | Buffer | undefined;
  headers: Record<string, string>;
}

/** Where the API server is, how to trust it and who we are to it. */
export class KubeConfig {
  readonly server: string;
  readonly #tls: ServerTls;
  readonly #credentials: Credentials;

  constructor(server: string, tls: ServerTls, credentials: Credentials) {
    this.server = server;
    this.#tls = tls;
    this.#credentials = credentials;
  }

  /** Asked for every request: tokens expire and files rotate. */
  async requestOptions(): Promise<KubeRequestOptions> {
    const { authorization, cert, key } = await this.#credentials.current();
    return { ...this.#tls, cert, key, headers: authorization === undefined ? {} : { authorization } };
  }

  /** The API server answered 401 Unauthorized: the next request fetches new credentials where it can. */
  unauthorized(): void {
    this.#credentials.rejected();
  }
}

export interface LoadedKubeConfig {
  kubeConfig: KubeConfig;
  /** Where it came from, for the startup log ("KUBECONFIG=/path", "in-cluster", ...). */
  source: string;
  server: string;
}

export interface KubeConfigSources {
  /** --kubeconfig */
  path?: string | undefined;
  env?: NodeJS.ProcessEnv;
  home?: string;
  /** A directory standing in for / when looking for the service account (tests). */
  inClusterRoot?: string;
  /** The clock that token files and exec credentials age by (tests). */
  now?: () => number;
}

export function loadKubeConfig(sources: KubeConfigSources = {}): LoadedKubeConfig {
  const env = sources.env ?? process.env;
  const now = sources.now ?? Date.now;
  const saDir = (sources.inClusterRoot ?? '') + serviceAccountDir;
  const homeConfig = join(sources.home ?? homedir(), '.kube', 'config');
  let source: string;
  let kubeConfig: KubeConfig;

  if (sources.path) {
    source = `--kubeconfig=${sources.path}`;
    kubeConfig = fromKubeconfig(readKubeconfig(sources.path, source), source, now);
  } else if (env.KUBECONFIG) {
    // Like kubectl, the files of a KUBECONFIG list are merged: the first to name an entry wins.
    source = `KUBECONFIG=${env.KUBECONFIG}`;
    const files = env.KUBECONFIG.split(delimiter).filter((file) => file !== '');
    const configs = (files.length > 0 ? files : ['']).map((file) => readKubeconfig(file, source));
    kubeConfig = fromKubeconfig(mergeKubeconfigs(configs), source, now);
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(join(saDir, 'token'))) {
    source = 'in-cluster service account';
    kubeConfig = inClusterConfig(env.KUBERNETES_SERVICE_HOST, env.KUBERNETES_SERVICE_PORT, saDir, now);
  } else if (existsSync(homeConfig)) {
    source = homeConfig;
    kubeConfig = fromKubeconfig(readKubeconfig(homeConfig, source), source, now);
  } else {
    throw new KubeConfigError(
      'no Kubernetes configuration found: --kubeconfig and KUBECONFIG are not set, this is not a pod ' +
        `(KUBERNETES_SERVICE_HOST unset or no ${saDir}/token), and ${homeConfig} does not exist`,
    );
  }
  return { kubeConfig, source, server: kubeConfig.server };
}

/**
 * A configuration from a kubeconfig document given as an object (the YAML's shape: `clusters`, `users`,
 * `contexts`, `current-context`); relative paths in it resolve against `dir`.
 */
export function kubeConfigFromObject(
  document: unknown,
  options: { dir?: string; now?: () => number } = {},
): KubeConfig {
  const source = 'the given kubeconfig object';
  let config: Kubeconfig;
  try {
    config = parseKubeconfig(document, options.dir ?? process.cwd());
  } catch (err) {
    throw new KubeConfigError(`${source} is not valid: ${reasonOf(err)}`);
  }
  return fromKubeconfig(config, source, options.now ?? Date.now);
}

function readKubeconfig(file: string, source: string): Kubeconfig {
  if (!existsSync(file)) throw new KubeConfigError(`kubeconfig file ${file} (from ${source}) does not exist`);
  try {
    return parseKubeconfig(load(readFileSync(file, 'utf8')), dirname(resolve(file)));
  } catch (err) {
    throw new KubeConfigError(`cannot load kubeconfig file ${file} (from ${source}): ${reasonOf(err)}`);
  }
}

/** The current context's cluster and user, their files read. */
function fromKubeconfig(config: Kubeconfig, source: string, now: () => number): KubeConfig {
  const contextName = config.currentContext;
  const context = contextName === undefined ? undefined : config.contexts.get(contextName);
  const cluster = context && config.clusters.get(context.cluster);
  if (!context || !cluster) {
    throw new KubeConfigError(`the Kubernetes configuration from ${source} has no current context/cluster`);
  }
  const { server } = cluster;
  if (server === undefined) {
    throw new KubeConfigError(
      `cluster "${context.cluster}" of the Kubernetes configuration from ${source} has no server`,
    );
  }
  if (cluster.proxyUrl !== undefined) {
    throw new KubeConfigError(
      `cluster "${context.cluster}" of the Kubernetes configuration from ${source} sets proxy-url, which Keyward does not support`,
    );
  }
  const user = context.user === undefined ? undefined : config.users.get(context.user);
  if (context.user !== undefined && !user) {
    throw new KubeConfigError(
      `context "${String(contextName)}" names user "${context.user}", which the Kubernetes configuration from ${source} does not have`,
    );
  }
  const ca = pem(
    cluster.certificateAuthorityData,
    cluster.certificateAuthority,
    `cluster "${context.cluster}" certificate-authority`,
  );
  const execCluster: ExecClusterInfo = {
    server,
    'certificate-authority-data': ca?.toString('base64'),
    'insecure-skip-tls-verify': cluster.insecureSkipTlsVerify,
    'tls-server-name': cluster.tlsServerName,
  };
  const tls = { ca, servername: cluster.tlsServerName, rejectUnauthorized: !cluster.insecureSkipTlsVerify };
  const credentials =
    user && context.user ? userCredentials(context.user, user, execCluster, now) : noCredentials;
  return new KubeConfig(server, tls, credentials);
}

/** The pod's service account, its token re-read as it rotates; the server from the kubernetes Service's env. */
function inClusterConfig(
  host: string,
  port: string | undefined,
  saDir: string,
  now: () => number,
): KubeConfig {
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port ?? '443'}`;
  const caFile = join(saDir, 'ca.crt');
  const token = new TokenFile(join(saDir, 'token'), now);
  return new KubeConfig(
    server,
    { ca: existsSync(caFile) ? readFileSync(caFile) : undefined, rejectUnauthorized: true },
    {
      current: () => Promise.resolve({ authorization: `Bearer ${token.read()}` }),
      rejected: () => undefined,
    },
  );
}

/** An error's message, but for YAML only where and what: js-yaml's message quotes the file (and its secrets). */
function reasonOf(err: unknown): string {
  if (err instanceof YAMLException) {
    return err.mark
      ? `invalid YAML at line ${err.mark.line + 1}: ${err.reason}`
      : `invalid YAML: ${err.reason}`;
  }
  return err instanceof Error ? err.message : String(err);
}
