// npm run generate (after the chart): writes docs/reference.md from the code.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REFERENCE_FILE, renderReference } from './reference/render.ts';

const root = path.resolve(import.meta.dirname, '..');
await writeFile(path.join(root, REFERENCE_FILE), await renderReference(root));
console.log(`wrote ${REFERENCE_FILE}`);
