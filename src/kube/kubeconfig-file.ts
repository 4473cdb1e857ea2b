// The kubeconfig format (clientcmd's v1 Config) as far as Keyward reads it: named clusters, users and contexts
// with their file paths made absolute against the file's directory, and several files merged as kubectl merges a
// KUBECONFIG list. Error messages name fields, never their values (a user's fields are secrets).

import { isAbsolute, resolve } from 'node:path';

export class KubeConfigError extends Error {
  override readonly name = 'KubeConfigError';
}

export interface ClusterEntry {
  server: string | undefined;
  /** An absolute path. */
  certificateAuthority: string | undefined;
  /** Base64 PEM. */
  certificateAuthorityData: string | undefined;
  insecureSkipTlsVerify: boolean;
  tlsServerName: string | undefined;
  /** Read only to refuse it: Keyward connects directly. */
  proxyUrl: string | undefined;
}

export type ExecApiVersion = 'client.authentication.k8s.io/v1' | 'client.authentication.k8s.io/v1beta1';

export interface ExecConfig {
  apiVersion: ExecApiVersion;
  /** As written, or an absolute path when it was a relative path (a bare name is looked up on PATH). */
  command: string;
  args: string[];
  env: { name: string; value: string }[];
  installHint: string | undefined;
  provideClusterInfo: boolean;
  interactiveMode: string | undefined;
}

export interface UserEntry {
  /** Absolute paths; the *Data fields are base64 PEM. */
  clientCertificate: string | undefined;
  clientCertificateData: string | undefined;
  clientKey: string | undefined;
  clientKeyData: string | undefined;
  token: string | undefined;
  tokenFile: string | undefined;
  username: string | undefined;
  password: string | undefined;
  exec: ExecConfig | undefined;
  /** The name of a legacy auth-provider, which Keyward refuses. */
  authProvider: string | undefined;
}

export interface ContextEntry {
  cluster: string;
  user: string | undefined;
}

export interface Kubeconfig {
  clusters: Map<string, ClusterEntry>;
  users: Map<string, UserEntry>;
  contexts: Map<string, ContextEntry>;
  currentContext: string | undefined;
}

const execApiVersions: readonly string[] = [
  'client.authentication.k8s.io/v1',
  'client.authentication.k8s.io/v1beta1',
] satisfies ExecApiVersion[];

type Fields = Record<string, unknown>;

/** A parsed kubeconfig document (YAML or an object of the same shape); `dir` resolves its relative paths. */
export function parseKubeconfig(document: unknown, dir: string): Kubeconfig {
  const root = fields(document, 'the document');
  const path = (value: string | undefined): string | undefined =>
    value === undefined || isAbsolute(value) ? value : resolve(dir, value);
  return {
    clusters: named(root, 'clusters', 'cluster', (cluster, where) => ({
      server: text(cluster, 'server', where),
      certificateAuthority: path(text(cluster, 'certificate-authority', where)),
      certificateAuthorityData: text(cluster, 'certificate-authority-data', where),
      insecureSkipTlsVerify: flag(cluster, 'insecure-skip-tls-verify', where),
      tlsServerName: text(cluster, 'tls-server-name', where),
      proxyUrl: text(cluster, 'proxy-url', where),
    })),
    users: named(root, 'users', 'user', (user, where) => ({
      clientCertificate: path(text(user, 'client-certificate', where)),
      clientCertificateData: text(user, 'client-certificate-data', where),
      clientKey: path(text(user, 'client-key', where)),
      clientKeyData: text(user, 'client-key-data', where),
      token: text(user, 'token', where),
      tokenFile: path(text(user, 'tokenFile', where)),
      username: text(user, 'username', where),
      password: text(user, 'password', where),
      exec:
        user.exec == null ? undefined : execConfig(fields(user.exec, `${where}.exec`), `${where}.exec`, path),
      authProvider:
        user['auth-provider'] == null
          ? undefined
          : (text(
              fields(user['auth-provider'], `${where}.auth-provider`),
              'name',
              `${where}.auth-provider`,
            ) ?? 'unnamed'),
    })),
    contexts: named(root, 'contexts', 'context', (context, where) => {
      const cluster = text(context, 'cluster', where);
      if (cluster === undefined) throw new Error(`${where}.cluster is not set`);
      return { cluster, user: text(context, 'user', where) };
    }),
    currentContext: text(root, 'current-context', 'the document'),
  };
}

/** Several kubeconfigs as one, as kubectl merges KUBECONFIG: the first to set a name or current-context wins. */
export function mergeKubeconfigs(configs: readonly Kubeconfig[]): Kubeconfig {
  const merged: Kubeconfig = {
    clusters: new Map(),
    users: new Map(),
    contexts: new Map(),
    currentContext: undefined,
  };
  for (const config of configs) {
    for (const kind of ['clusters', 'users', 'contexts'] as const) {
      const into = merged[kind] as Map<string, unknown>;
      for (const [name, entry] of config[kind]) if (!into.has(name)) into.set(name, entry);
    }
    merged.currentContext ??= config.currentContext;
  }
  return merged;
}

function execConfig(exec: Fields, where: string, path: (value: string) => string | undefined): ExecConfig {
  const apiVersion = text(exec, 'apiVersion', where);
  if (apiVersion === undefined || !execApiVersions.includes(apiVersion)) {
    throw new Error(`${where}.apiVersion must be one of ${execApiVersions.join(', ')}`);
  }
  const command = text(exec, 'command', where);
  if (command === undefined) throw new Error(`${where}.command is not set`);
  return {
    apiVersion: apiVersion as ExecApiVersion,
    // kubectl resolves the command against the file's directory only when it is a path, not a name on PATH.
    command: command.includes('/') ? (path(command) ?? command) : command,
    args: list(exec, 'args', where).map((arg, i) => {
      if (typeof arg !== 'string') throw new Error(`${where}.args[${i}] is not a string`);
      return arg;
    }),
    env: list(exec, 'env', where).map((variable, i) => {
      const entry = fields(variable, `${where}.env[${i}]`);
      const name = text(entry, 'name', `${where}.env[${i}]`);
      if (name === undefined) throw new Error(`${where}.env[${i}].name is not set`);
      return { name, value: text(entry, 'value', `${where}.env[${i}]`) ?? '' };
    }),
    installHint: text(exec, 'installHint', where),
    provideClusterInfo: flag(exec, 'provideClusterInfo', where),
    interactiveMode: text(exec, 'interactiveMode', where),
  };
}

/** A list of `{name, <key>: {...}}` entries as a map by name; within one file a later entry replaces an earlier one. */
function named<T>(
  root: Fields,
  listKey: string,
  key: string,
  entry: (value: Fields, where: string) => T,
): Map<string, T> {
  const entries = new Map<string, T>();
  list(root, listKey, 'the document').forEach((item, i) => {
    const named = fields(item, `${listKey}[${i}]`);
    const name = text(named, 'name', `${listKey}[${i}]`);
    if (name === undefined) throw new Error(`${listKey}[${i}].name is not set`);
    entries.set(name, entry(fields(named[key], `${key} "${name}"`), `${key} "${name}"`));
  });
  return entries;
}

function fields(value: unknown, where: string): Fields {
  if (value == null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where} is not a mapping`);
  return value as Fields;
}

function list(object: Fields, key: string, where: string): unknown[] {
  const value = object[key];
  if (value == null) return [];
  if (!Array.isArray(value)) throw new Error(`${where}.${key} is not a list`);
  return value;
}

function text(object: Fields, key: string, where: string): string | undefined {
  const value = object[key];
  if (value == null || value === '') return undefined;
  if (typeof value !== 'string') throw new Error(`${where}.${key} is not a string`);
  return value;
}

function flag(object: Fields, key: string, where: string): boolean {
  const value = object[key];
  if (value == null) return false;
  if (typeof value !== 'boolean') throw new Error(`${where}.${key} is not true or false`);
  return value;
}
