// The chart test's tools, built once from the Go module proxy into a cache outside the repository (as the control
// plane is, scripts/testenv/build.ts): helm, promtool for the PrometheusRule, kubeconform, gopher-lua, and our kstatus
// program (test/chart/kstatus).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
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
export function ensureGoTool(tool: GoTool, log: (line: string) => void): Promise<string> {
  const dir = join(toolsDir(), [tool.name, tool.version, ...(tool.tags ?? [])].join('-'));
  const tags = tool.tags?.length ? [`-tags=${tool.tags.join(',')}`] : [];
  return cachedBuild(tool.name, dir, `${tool.version} from the Go module proxy`, log, (bin) =>
    go(['install', ...tags, `${tool.package}@${tool.version}`], { GOBIN: bin }),
  );
}

/** A Go program of ours: a folder with go.mod, go.sum and its *.go files. */
export interface LocalGoTool {
  name: string;
  dir: string;
}

/** kstatus's verdict on objects (test/chart/kstatus): what Flux's health checks see. */
export const KSTATUS: LocalGoTool = {
  name: 'kstatus',
  dir: join(import.meta.dirname, '..', 'test', 'chart', 'kstatus'),
};

/** The program's binary, built first if the cache has no build of exactly these sources. */
export async function ensureLocalGoTool(tool: LocalGoTool, log: (line: string) => void): Promise<string> {
  const hash = createHash('sha256');
  for (const name of (await readdir(tool.dir)).filter((n) => /^go\.(mod|sum)$|\.go$/.test(n)).sort()) {
    hash
      .update(`${name}\0`)
      .update(await readFile(join(tool.dir, name)))
      .update('\0');
  }
  const dir = join(toolsDir(), `${tool.name}-${hash.digest('hex').slice(0, 16)}`);
  return cachedBuild(tool.name, dir, `from ${tool.dir}`, log, (bin) =>
    go(['build', '-o', join(bin, tool.name), '.'], {}, tool.dir),
  );
}

async function cachedBuild(
  name: string,
  dir: string,
  what: string,
  log: (line: string) => void,
  build: (bin: string) => Promise<void>,
): Promise<string> {
  const binary = join(dir, name);
  if (existsSync(binary)) return binary;
  // Built next to its final place and renamed, so an interrupted build never looks complete.
  const partial = `${dir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const started = performance.now();
  log(`building ${name} ${what} (once; cached in ${dir})`);
  try {
    await build(partial);
    if (!existsSync(binary)) await rename(partial, dir);
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  log(`built ${name} in ${elapsedSince(started)}`);
  return binary;
}

function go(args: readonly string[], env: Record<string, string>, cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('go', args, {
      cwd,
      env: { ...process.env, ...env, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false -trimpath' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`go ${args.join(' ')} failed (exit ${String(code)}):\n${stderr}`));
    });
  });
}
