// npm run generate (after the CRDs): writes the chart's RBAC from the controllers' declarations.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RBAC_TEMPLATE, renderRbacTemplate } from './chart-rbac.ts';

await writeFile(path.resolve(import.meta.dirname, '..', RBAC_TEMPLATE), renderRbacTemplate());
console.log(`wrote ${RBAC_TEMPLATE}`);
