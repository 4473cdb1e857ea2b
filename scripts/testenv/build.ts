import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

import { elapsedSince } from './elapsed.ts';
import { buildCacheDir, moduleDir } from './paths.ts';

export interface Binaries {
  controlplane: string;
  kubectl: string;
  kubernetesVersion: string;
}

const progressIntervalMs = 15_000;
/** keyward-controlplane (the module's main package) and kubectl (a tool of the module). */
const goBuildPackages = ['.', 'k8s.io/kubernetes/cmd/kubectl'];

/**
 * Returns the binaries built from hack/controlplane, building them first when the cache has no
 * build of exactly these sources and flags (key: Kubernetes version + hash of go.mod, go.sum,
 * *.go and the go build arguments).
 */
export async function ensureBinaries(log: (line: string) => void): Promise<Binaries> {
  const goMod = await readFile(join(moduleDir, 'go.mod'), 'utf8');
  const kubernetesVersion = /^\s*k8s\.io\/kubernetes (v\S+)/m.exec(goMod)?.[1];
  if (kubernetesVersion === undefined)
    throw new Error(`${moduleDir}/go.mod does not require k8s.io/kubernetes`);
  const args = goBuildArgs(kubernetesVersion);
  const dir = join(buildCacheDir(), `kubernetes-${kubernetesVersion}-${await buildHash(args)}`);
  const binaries = {
    controlplane: join(dir, 'keyward-controlplane'),
    kubectl: join(dir, 'kubectl'),
    kubernetesVersion,
  };
  if (existsSync(binaries.controlplane) && existsSync(binaries.kubectl)) return binaries;

  // Build next to the final place and rename, so an interrupted build never looks complete.
  const partial = `${dir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  try {
    await goBuild(args, partial, binaries, log);
    await rm(dir, { recursive: true, force: true });
    await rename(partial, dir);
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  await removeOtherBuilds(dir);
  return binaries;
}

/** Each build is about 190 MB; a control plane still running an old one is restarted anyway. */
async function removeOtherBuilds(current: string): Promise<void> {
  for (const entry of await readdir(dirname(current))) {
    const path = join(dirname(current), entry);
    if (path !== current && !entry.includes('.partial-')) await rm(path, { recursive: true, force: true });
  }
}

async function buildHash(args: string[]): Promise<string> {
  const names = (await readdir(moduleDir))
    .filter((name) => name === 'go.mod' || name === 'go.sum' || name.endsWith('.go'))
    .sort();
  const hash = createHash('sha256').update(`${[...args, ...goBuildPackages].join(' ')}\0`);
  for (const name of names) {
    hash.update(`${name}\0`);
    hash.update(await readFile(join(moduleDir, name)));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/** What upstream's hack/lib/version.sh stamps, so /version and `kubectl version` tell the truth. */
function versionLdflags(kubernetesVersion: string): string {
  const [major, minor] = kubernetesVersion.slice(1).split('.');
  const values = { gitVersion: kubernetesVersion, gitMajor: major, gitMinor: minor, gitTreeState: 'clean' };
  return ['k8s.io/client-go/pkg/version', 'k8s.io/component-base/version']
    .flatMap((pkg) => Object.entries(values).map(([name, value]) => `-X ${pkg}.${name}=${value ?? ''}`))
    .join(' ');
}

/** `go build` and its flags; goBuildPackages come after `-o`. */
function goBuildArgs(kubernetesVersion: string): string[] {
  // -s -w: no symbol table or DWARF, which shortens the link of these large binaries a lot.
  const ldflags = `-s -w ${versionLdflags(kubernetesVersion)}`;
  return ['build', '-v', '-trimpath', '-ldflags', ldflags];
}

async function goBuild(
  args: string[],
  outDir: string,
  binaries: Binaries,
  log: (line: string) => void,
): Promise<void> {
  const { kubernetesVersion } = binaries;
  const startedAt = performance.now();
  log(
    `building kube-apiserver + etcd (Kubernetes ${kubernetesVersion}) and kubectl for ${dirname(binaries.kubectl)}; ` +
      'with an empty Go build cache this compiles about 2,300 packages (minutes on 2 cores)',
  );
  const go = spawn('go', [...args, '-o', `${outDir}/`, ...goBuildPackages], {
    cwd: moduleDir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });

  let compiled = 0;
  let downloaded = 0;
  const recent: string[] = [];
  createInterface({ input: go.stderr }).on('line', (line) => {
    if (line.startsWith('go: downloading ')) downloaded++;
    else if (!line.startsWith('#') && !line.includes(' ')) compiled++;
    recent.push(line);
    if (recent.length > 40) recent.shift();
  });
  const progress = setInterval(() => {
    log(
      `  go build: ${elapsedSince(startedAt)}, ${compiled} packages compiled, ${downloaded} modules downloaded`,
    );
  }, progressIntervalMs);

  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      go.once('error', reject);
      go.once('close', resolve);
    });
    if (code !== 0) {
      throw new Error(`go build failed (exit ${code}) in ${moduleDir}:\n${recent.join('\n')}`);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('the Go toolchain (`go`) is not on PATH; it builds the local control plane once', {
        cause: error,
      });
    }
    throw error;
  } finally {
    clearInterval(progress);
  }
  log(`built in ${elapsedSince(startedAt)} (${compiled} packages compiled)`);
}
