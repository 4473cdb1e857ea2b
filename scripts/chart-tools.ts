// The chart test's tools, built once from the Go module proxy into a cache outside the repository (as the control
// plane is, scripts/testenv/build.ts): helm, promtool for the PrometheusRule, kubeconform, and gopher-lua.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { elapsedSince } from './testenv/elapsed.ts';

export interface GoTool {
  name: string;
  /** The main package, installed with `go install <package>@<version>`. */
  package: string;
  version: string;
  /** Go build tags; they are part of the cache key. */
  tags?: readonly string[];
}

export const HELM: GoTool = { name: 'helm', package: 'helm.sh/helm/v3/cmd/helm', version: 'v3.22.0' };
export const PROMTOOL: GoTool = {
  name: 'promtool',
  package: 'github.com/prometheus/prometheus/cmd/promtool',
  version: 'v0.316.0',
  // Without the service discovery plugins (cloud SDKs) promtool does not need for `check rules`: a much smaller build.
  tags: ['remove_all_sd'],
};

/** kubeconform, which validates the rendered chart against JSON schemas made from the control plane's OpenAPI. */
export const KUBECONFORM: GoTool = {
  name: 'kubeconform',
  package: 'github.com/yannh/kubeconform/cmd/kubeconform',
  version: 'v0.8.0',
};

/** gopher-lua, the Lua that Argo CD runs health checks in (docs/argocd). */
export const GLUA: GoTool = {
  name: 'glua',
  package: 'github.com/yuin/gopher-lua/cmd/glua',
  version: 'v1.1.2',
};

function toolsDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'keyward', 'tools');
}

/** The tool's binary, built first if the cache has no build of this version. */
export async function ensureGoTool(tool: GoTool, log: (line: string) => void): Promise<string> {
  const dir = join(toolsDir(), [tool.name, tool.version, ...(tool.tags ?? [])].join('-'));
  const binary = join(dir, tool.name);
  if (existsSync(binary)) return binary;
  // Built next to its final place and renamed, so an interrupted build never looks complete.
  const partial = `${dir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const started = performance.now();
  log(`building ${tool.name} ${tool.version} from the Go module proxy (once; cached in ${dir})`);
  try {
    await goInstall(tool, partial);
    if (!existsSync(binary)) await rename(partial, dir);
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  log(`built ${tool.name} in ${elapsedSince(started)}`);
  return binary;
}

function goInstall(tool: GoTool, bin: string): Promise<void> {
  const target = `${tool.package}@${tool.version}`;
  const tags = tool.tags?.length ? [`-tags=${tool.tags.join(',')}`] : [];
  return new Promise((resolve, reject) => {
    const child = spawn('go', ['install', ...tags, target], {
      env: { ...process.env, GOBIN: bin, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false -trimpath' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`go install ${target} failed (exit ${String(code)}):\n${stderr}`));
    });
  });
}
