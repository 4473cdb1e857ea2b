// Keyward's controllers and what they share: the open backend connections, the backend metrics, the caches of the
// objects they read, and the domain metrics computed from those caches at scrape time.
import type { KEY_PHASES } from '../api/v1alpha1/managedkey.ts';
import type { KeyBackendObject, ManagedKeyObject } from '../api/v1alpha1/index.ts';
import { BackendMetrics } from '../backends/instrumented.ts';
import { objectKey } from '../kube/object.ts';
import type { KubeObject } from '../kube/object.ts';
import { builtinResources } from '../kube/resource.ts';
import type { Manager } from '../runtime/manager.ts';
import { BackendConnections } from './keybackend/connections.ts';
import { keyBackendController, keyBackendType } from './keybackend/controller.ts';
import { managedKeyController, managedKeyType } from './managedkey/controller.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, PublicKeyCache } from './managedkey/distribution.ts';
import type { ConfigMap } from './managedkey/distribution.ts';

const BY_BACKEND = 'backend';

export function addKeywardControllers(manager: Manager): void {
  const connections = new BackendConnections();
  const keyBackends = manager.informer<KeyBackendObject>({ resource: keyBackendType });
  const managedKeys = manager.informer<ManagedKeyObject>({ resource: managedKeyType });
  managedKeys.addIndex(BY_BACKEND, (key) => [key.spec.backendRef.name]);

  const keyBackend = manager.addController(
    keyBackendController({ connections, backendMetrics: new BackendMetrics(manager.metrics.registry) }),
  );
  keyBackend.informer.addHandlers({
    delete: (deleted) => void connections.close(deleted.metadata.name ?? ''),
  });
  manager.addController(
    managedKeyController({
      connections,
      keyBackends,
      namespaces: manager.informer<KubeObject>({ resource: builtinResources.namespaces }),
      configMaps: manager.informer<ConfigMap>({
        resource: builtinResources.configMaps,
        labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
      }),
      publicKeys: new PublicKeyCache(),
      keysUsingBackend: (name) => managedKeys.byIndex(BY_BACKEND, name).map(objectKey),
    }),
  );

  manager.metrics.scrapeTimeGauge({
    name: 'keyward_managed_keys',
    help: 'ManagedKeys by lifecycle phase and KeyBackend.',
    labelNames: ['phase', 'backend'],
    collect: () => {
      const counts = new Map<string, number>();
      for (const key of managedKeys.list()) {
        const id = JSON.stringify([key.status?.phase ?? 'Pending', key.spec.backendRef.name]);
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      return [...counts].map(([id, value]) => {
        const [phase, backend] = JSON.parse(id) as [(typeof KEY_PHASES)[number], string];
        return { labels: { phase, backend }, value };
      });
    },
  });
}
