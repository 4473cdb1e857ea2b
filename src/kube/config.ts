// Where the operator's API server credentials come from, in controller-runtime's order: an explicit
// kubeconfig path, $KUBECONFIG, the in-cluster service account, then ~/.kube/config.

import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { KubeConfig } from '@kubernetes/client-node';

const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';

export class KubeConfigError extends Error {
  override readonly name = 'KubeConfigError';
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
}

export function loadKubeConfig(sources: KubeConfigSources = {}): LoadedKubeConfig {
  const env = sources.env ?? process.env;
  const inClusterRoot = sources.inClusterRoot ?? '';
  const saDir = inClusterRoot + serviceAccountDir;
  const homeConfig = join(sources.home ?? homedir(), '.kube', 'config');
  const kubeConfig = new KubeConfig();
  let source: string;

  if (sources.path) {
    source = `--kubeconfig=${sources.path}`;
    loadFile(kubeConfig, sources.path, source);
  } else if (env.KUBECONFIG) {
    // Like kubectl, the first file of a KUBECONFIG list is the base and later ones are merged in.
    source = `KUBECONFIG=${env.KUBECONFIG}`;
    const [first, ...rest] = env.KUBECONFIG.split(':').filter((file) => file !== '');
    loadFile(kubeConfig, first ?? '', source);
    for (const file of rest) {
      const extra = new KubeConfig();
      loadFile(extra, file, source);
      kubeConfig.mergeConfig(extra, true);
    }
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(join(saDir, 'token'))) {
    source = 'in-cluster service account';
    kubeConfig.loadFromCluster(inClusterRoot);
  } else if (existsSync(homeConfig)) {
    source = homeConfig;
    loadFile(kubeConfig, homeConfig, source);
  } else {
    throw new KubeConfigError(
      'no Kubernetes configuration found: --kubeconfig and KUBECONFIG are not set, this is not a pod ' +
        `(KUBERNETES_SERVICE_HOST unset or no ${saDir}/token), and ${homeConfig} does not exist`,
    );
  }

  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) {
    throw new KubeConfigError(`the Kubernetes configuration from ${source} has no current context/cluster`);
  }
  return { kubeConfig, source, server: cluster.server };
}

function loadFile(kubeConfig: KubeConfig, file: string, source: string): void {
  if (!existsSync(file)) throw new KubeConfigError(`kubeconfig file ${file} (from ${source}) does not exist`);
  try {
    kubeConfig.loadFromFile(file);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new KubeConfigError(`cannot load kubeconfig file ${file} (from ${source}): ${reason}`);
  }
}
