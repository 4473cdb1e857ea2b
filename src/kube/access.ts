// What the operator does through the Kubernetes API, declared next to the code that does it, so that the chart's
// RBAC (helm/keyward/templates/rbac.yaml, written by scripts/chart-rbac.ts) is derived from the code and grants
// exactly these verbs. Reading an informer's resource (list, watch) needs no declaration: the manager knows its
// informers.
import type { ResourceType } from './resource.ts';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

export interface ApiAccess {
  resource: ResourceType;
  /** "status" for writes through the status subresource. */
  subresource?: string;
  verbs: readonly Verb[];
}
