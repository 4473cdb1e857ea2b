// JSON schemas for kubeconform, made from the control plane's own OpenAPI v3 (built-in kinds and the installed CRDs),
// so the rendered chart is checked against exactly the API it is dry-run against, offline.
//
// Each group-version document (/openapi/v3/apis/<group>/<version>) holds its kinds' schemas in components.schemas,
// with $refs between them. A kind becomes one self-contained file, <group>/<kind>_<version>.json (kubeconform's
// `{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json`; the core group is "v1"), holding the kind's
// schema and, under `definitions`, the schemas it reaches. Two changes make it what kubeconform -strict expects:
// - strict: an object with `properties` and no `additionalProperties` (nor x-kubernetes-preserve-unknown-fields)
//   refuses other fields, as the API server drops or refuses them (kubeconform's -strict only asks for "-strict"
//   schemas, which upstream's openapi2jsonschema makes the same way);
// - `nullable: true` (OpenAPI) becomes a "null" type (JSON Schema).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { installCrds } from '../../scripts/cluster.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { eventually } from '../support/eventually.ts';

/** No Prometheus Operator CRDs in the control plane, so no schemas: promtool checks the rules (chart.test.ts). */
export const PROMETHEUS_OPERATOR_KINDS = [
  'monitoring.coreos.com/v1/ServiceMonitor',
  'monitoring.coreos.com/v1/PrometheusRule',
];

export const SCHEMA_LOCATION_TEMPLATE = '{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json';

type Schema = Record<string, unknown>;
interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

const REF_PREFIX = '#/components/schemas/';

/** Installs the CRDs and writes the schemas of every kind the control plane serves into a new temporary directory. */
export async function controlPlaneSchemas(client: KubeClient): Promise<{ dir: string; kinds: Set<string> }> {
  await installCrds(client);
  const getJson = (apiPath: string): Promise<unknown> => client.request('GET', apiPath);
  // A CRD is in /openapi/v3 a moment after it is established.
  await eventually('the CRDs to be published in /openapi/v3', async () => {
    const index = (await getJson('/openapi/v3')) as { paths: Record<string, unknown> };
    return 'apis/keyward.io/v1alpha1' in index.paths;
  });
  const dir = await mkdtemp(path.join(tmpdir(), 'keyward-schemas-'));
  return { dir, kinds: await writeKubeconformSchemas(getJson, dir) };
}

/** Writes a schema per kind into `dir`; returns the kinds written, as "group/version/Kind" ("" for core). */
export async function writeKubeconformSchemas(
  getJson: (apiPath: string) => Promise<unknown>,
  dir: string,
): Promise<Set<string>> {
  const index = (await getJson('/openapi/v3')) as { paths: Record<string, unknown> };
  const groupVersions = Object.keys(index.paths).filter((p) => /^(api\/v1|apis\/[^/]+\/[^/]+)$/.test(p));
  const written = new Set<string>();
  for (const groupVersion of groupVersions) {
    const doc = (await getJson(`/openapi/v3/${groupVersion}`)) as {
      components?: { schemas?: Record<string, Schema> };
    };
    const schemas = doc.components?.schemas ?? {};
    for (const [name, schema] of Object.entries(schemas)) {
      const gvks = (schema['x-kubernetes-group-version-kind'] ?? []) as GroupVersionKind[];
      for (const gvk of gvks) {
        // Only the group-version this document serves (a document also lists e.g. DeleteOptions for every group).
        const served = gvk.group === '' ? 'api/v1' : `apis/${gvk.group}/${gvk.version}`;
        if (served !== groupVersion || (gvk.group === '' && gvk.version !== 'v1')) continue;
        const file = path.join(dir, gvk.group || 'v1', `${gvk.kind.toLowerCase()}_${gvk.version}.json`);
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file, JSON.stringify(standalone(name, schemas)));
        written.add(`${gvk.group}/${gvk.version}/${gvk.kind}`);
      }
    }
  }
  return written;
}

/** The kind's schema with every schema it reaches under `definitions`, in the JSON Schema kubeconform compiles. */
function standalone(name: string, schemas: Readonly<Record<string, Schema>>): Schema {
  const definitions: Record<string, unknown> = {};
  const pending = [name];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (next in definitions) continue;
    const schema = schemas[next];
    if (!schema) throw new Error(`OpenAPI schema ${next} is referenced but not defined`);
    definitions[next] = convert(schema, (ref) => {
      pending.push(ref);
    });
  }
  return { ...(definitions[name] as Schema), definitions };
}

function convert(node: unknown, reached: (name: string) => void): unknown {
  if (Array.isArray(node)) return node.map((n) => convert(n, reached));
  if (typeof node !== 'object' || node === null) return node;
  const schema = node as Schema;
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$ref' && typeof value === 'string' && value.startsWith(REF_PREFIX)) {
      const target = value.slice(REF_PREFIX.length);
      reached(target);
      out.$ref = `#/definitions/${target}`;
    } else if (key === 'properties' || key === 'patternProperties') {
      // A map of field names to schemas: its keys are names, not keywords.
      out[key] = Object.fromEntries(
        Object.entries(value as Schema).map(([field, sub]) => [field, convert(sub, reached)]),
      );
    } else if (key !== 'nullable') {
      out[key] = convert(value, reached);
    }
  }
  if (schema.nullable === true && typeof schema.type === 'string') out.type = [schema.type, 'null'];
  if (
    schema.properties !== undefined &&
    schema.additionalProperties === undefined &&
    schema['x-kubernetes-preserve-unknown-fields'] !== true
  ) {
    out.additionalProperties = false;
  }
  return out;
}

export interface KubeconformResult {
  kind: string;
  name: string;
  version: string;
  status: 'statusValid' | 'statusInvalid' | 'statusError' | 'statusSkipped' | 'statusEmpty';
  msg?: string;
}

/**
 * kubeconform -strict over YAML documents, against the schemas in `schemaDir`; `skip` lists the kinds (as
 * group/version/Kind) left out on purpose. Every resource is reported, valid or not.
 */
export function kubeconform(
  binary: string,
  schemaDir: string,
  yaml: string,
  skip: readonly string[] = [],
): Promise<KubeconformResult[]> {
  const args = [
    '-strict',
    '-output',
    'json',
    '-verbose',
    '-schema-location',
    path.join(schemaDir, SCHEMA_LOCATION_TEMPLATE),
    ...(skip.length > 0 ? ['-skip', skip.join(',')] : []),
    '-',
  ];
  return new Promise((resolve, reject) => {
    // Exit 1 means some resource is invalid: the JSON on stdout still says which.
    const child = execFile(binary, args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      try {
        resolve((JSON.parse(stdout) as { resources: KubeconformResult[] }).resources);
      } catch {
        reject(new Error(`kubeconform: ${stderr || error?.message || stdout}`));
      }
    });
    child.stdin?.end(yaml);
  });
}
