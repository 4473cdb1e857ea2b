// Where an operator's CPU time went, from a --cpu-prof profile (bench/run.ts --profile-dir):
//
//   node bench/cpu-profile.ts DIR/CPU.*.cpuprofile [--top 25]
//
// Self time summed by function and by where the code lives (a package under node_modules, a folder of src/,
// Node's own internals), so the cost of the API client, pkcs11js, GC and idle waiting can be told apart.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});
const top = Number(values.top);

/** A package (node_modules/@scope/name), a folder of the repository (src/runtime), or what V8 calls the frame. */
function placeOf(url: string, functionName: string): string {
  if (url === '') return `(${functionName || 'anonymous'})`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  if (url.startsWith('node:')) return 'node internals';
  const repo = /\/(src|dist)\/(.+)\/[^/]+$/.exec(url);
  if (repo) return `${repo[1]}/${repo[2]}`;
  return url;
}

for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const { functionName, url, lineNumber } = node.callFrame;
    const fn = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|src|dist)\//, '$1/')}:${lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
    const place = placeOf(url, functionName);
    byPlace.set(place, (byPlace.get(place) ?? 0) + ms);
  });
  const total = (profile.endTime - profile.startTime) / 1000;
  const list = (m: Map<string, number>): string[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([what, ms]) => `  ${(ms / 1000).toFixed(2).padStart(8)} s  ${what}`);
  console.log(`${file}: ${(total / 1000).toFixed(1)} s profiled`);
  console.log('self time by place:', ...list(byPlace).map((l) => `\n${l}`));
  console.log('self time by function:', ...list(byFunction).map((l) => `\n${l}`));
}
