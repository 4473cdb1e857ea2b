// npm run generate: writes crds/ and the chart's CRD templates from src/api.
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CHART_CRD_DIR, CRD_DIR, renderCrdFiles } from './crds.ts';

const root = path.resolve(import.meta.dirname, '..');
const files = renderCrdFiles();

for (const dir of [CRD_DIR, CHART_CRD_DIR]) {
  await mkdir(path.join(root, dir), { recursive: true });
  // A kind that was removed from the API must not leave its old CRD behind.
  for (const name of await readdir(path.join(root, dir))) {
    if (!files.has(`${dir}/${name}`)) await rm(path.join(root, dir, name));
  }
}
for (const [file, content] of files) {
  await writeFile(path.join(root, file), content);
  console.log(`wrote ${file}`);
}
