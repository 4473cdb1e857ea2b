// helm against the chart in helm/keyward: lint, and template into objects.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadAll } from 'js-yaml';

import {
  GLUA,
  HELM,
  KSTATUS,
  KUBECONFORM,
  PROMTOOL,
  ensureGoTool,
  ensureLocalGoTool,
} from '../../scripts/chart-tools.ts';
import { ensureBinaries } from '../../scripts/testenv/build.ts';
import type { KubeObject } from '../../src/kube/object.ts';
import { REPO_ROOT } from '../support/kube.ts';

export const CHART_DIR = path.join(REPO_ROOT, 'helm', 'keyward');

const run = promisify(execFile);

export interface Tools {
  helm: string;
  promtool: string;
  glua: string;
  kubeconform: string;
  kstatus: string;
  /** The control plane's Kubernetes version: helm built with go install would otherwise assume v1.20. */
  kubeVersion: string;
}

export async function chartTools(): Promise<Tools> {
  const log = (line: string): void => {
    console.error(`[chart] ${line}`);
  };
  const { kubernetesVersion } = await ensureBinaries(log);
  return {
    helm: await ensureGoTool(HELM, log),
    promtool: await ensureGoTool(PROMTOOL, log),
    glua: await ensureGoTool(GLUA, log),
    kubeconform: await ensureGoTool(KUBECONFORM, log),
    kstatus: await ensureLocalGoTool(KSTATUS, log),
    kubeVersion: kubernetesVersion,
  };
}

/** Every optional part of the chart on: what lint, template, kubeconform and promtool see. */
export function everyOption(secretNamespace: string): Record<string, string | boolean> {
  return {
    'serviceMonitor.enabled': true,
    'prometheusRule.enabled': true,
    'grafanaDashboard.enabled': true,
    'podDisruptionBudget.enabled': true,
    'networkPolicy.egress.enabled': true,
    'workloadIdentity.aws.roleArn': 'arn:aws:iam::123456789012:role/keyward',
    'workloadIdentity.gcp.serviceAccount': 'keyward@project.iam.gserviceaccount.com',
    'workloadIdentity.azure.clientId': '00000000-0000-0000-0000-000000000000',
    'pkcs11.library.source': 'initContainer',
    'pkcs11.library.initContainer.image': 'registry.example/luna-client:10.7',
    'pkcs11.config.configMap': 'luna-client',
    'rbac.secretNamespaces[0]': secretNamespace,
  };
}

/** `--set` arguments for a flat map of value paths ("metrics.port") to values. */
export function setArgs(values: Readonly<Record<string, string | number | boolean>>): string[] {
  return Object.entries(values).flatMap(([key, value]) => ['--set', `${key}=${String(value)}`]);
}

export async function helm(tools: Tools, args: readonly string[]): Promise<string> {
  const { stdout } = await run(tools.helm, [...args, '--kube-version', tools.kubeVersion], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** The rendered chart, as YAML text and as objects. */
export async function helmTemplate(
  tools: Tools,
  release: string,
  namespace: string,
  values: Readonly<Record<string, string | number | boolean>> = {},
  extraArgs: readonly string[] = [],
): Promise<{ yaml: string; objects: KubeObject[] }> {
  const yaml = await helm(tools, [
    'template',
    release,
    CHART_DIR,
    '--namespace',
    namespace,
    ...setArgs(values),
    ...extraArgs,
  ]);
  const objects = (loadAll(yaml) as (KubeObject | null)[]).filter((o): o is KubeObject => o !== null);
  return { yaml, objects };
}

export function findObject(objects: readonly KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found) throw new Error(`the chart rendered no ${kind}${name ? ` ${name}` : ''}`);
  return found;
}
