// Test access to the local control plane: a client for it, and the message of an API error.
import path from 'node:path';
import { ensureControlPlane } from '../../scripts/testenv/controlplane.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { clientFor } from '../fixtures/runtime-env.ts';
import { KubeApiError } from '../../src/kube/errors.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

export interface TestCluster {
  client: KubeClient;
  kubeconfigPath: string;
}

/** Starts (or reuses) the local control plane and returns a client for it. */
export async function testCluster(): Promise<TestCluster> {
  const controlPlane = await ensureControlPlane({
    log: (line) => {
      console.error(`[testenv] ${line}`);
    },
  });
  return { client: clientFor(controlPlane.kubeconfig), kubeconfigPath: controlPlane.kubeconfig };
}

/** The API server's message in an API error (after the request path); rethrows anything else. */
export function apiErrorMessage(error: unknown): string {
  if (error instanceof KubeApiError) return error.message.replace(/^[A-Z]+ \S+: /, '');
  throw error;
}
