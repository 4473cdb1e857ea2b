// Test access to the local control plane: a client for it, and the message of an API error.
import path from 'node:path';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { ensureControlPlane } from '../../scripts/testenv/controlplane.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

export interface TestCluster {
  kubeConfig: KubeConfig;
  kubeconfigPath: string;
}

/** Starts (or reuses) the local control plane and returns clients for it. */
export async function testCluster(): Promise<TestCluster> {
  const controlPlane = await ensureControlPlane({ log: (line) => console.error(`[testenv] ${line}`) });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(controlPlane.kubeconfig);
  return {
    kubeConfig,
    kubeconfigPath: controlPlane.kubeconfig,
  };
}

/** The message of a Kubernetes API error (the Status object's message); rethrows anything else. */
export function apiErrorMessage(error: unknown): string {
  if (error instanceof ApiException) {
    const body: unknown = typeof error.body === 'string' ? JSON.parse(error.body) : error.body;
    return (body as { message?: string }).message ?? String(error.body);
  }
  throw error;
}
