// Keyward's controllers and what they share: the open backend connections, the backend metrics, the caches of the
// objects they read, and the domain metrics computed from those caches at scrape time.
import { ConditionType } from '../api/v1alpha1/conditions.ts';
import type { KEY_PHASES } from '../api/v1alpha1/managedkey.ts';
import type { KeyBackendObject, ManagedKeyObject } from '../api/v1alpha1/index.ts';
import { BackendMetrics } from '../backends/instrumented.ts';
import { objectKey } from '../kube/object.ts';
import type { KubeObject } from '../kube/object.ts';
import { builtinResources } from '../kube/resource.ts';
import { Counter } from 'prom-client';
import type { OperatorConfig } from '../config.ts';
import { findCondition } from '../runtime/conditions.ts';
import { parseDuration } from '../runtime/duration.ts';
import type { Informer } from '../runtime/informer.ts';
import type { Manager } from '../runtime/manager.ts';
import { BackendConnections } from './keybackend/connections.ts';
import { keyBackendController, keyBackendType } from './keybackend/controller.ts';
import { addBackendMetrics } from './keybackend/metrics.ts';
import { addKeyCeremonyControllers } from './keyceremony/register.ts';
import { managedKeyController, managedKeyType } from './managedkey/controller.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, PublicKeyCache } from './managedkey/distribution.ts';
import type { ConfigMap } from './managedkey/distribution.ts';

const BY_BACKEND = 'backend';

export function addKeywardControllers(manager: Manager, config: Pick<OperatorConfig, 'perKeyMetrics'>): void {
  const keyBackends = manager.informer<KeyBackendObject>({ resource: keyBackendType });
  const managedKeys = manager.informer<ManagedKeyObject>({ resource: managedKeyType });
  managedKeys.addIndex(BY_BACKEND, (key) => [key.spec.backendRef.name]);
  const keysUsingBackend = (name: string): string[] => managedKeys.byIndex(BY_BACKEND, name).map(objectKey);
  // Users of a backend are looked at again as soon as its connection comes or goes: the KeyBackend's status may
  // not change at all (after a restart it already said Ready), so its watch alone would not wake them.
  const connections = new BackendConnections((name) => {
    for (const key of keysUsingBackend(name)) managedKey.enqueue(key);
  });

  const rotations = new Counter({
    name: 'keyward_key_rotations_total',
    help: 'Rotations of ManagedKeys, by result (success or failure).',
    labelNames: ['result'],
    registers: [manager.metrics.registry],
  });

  const keyBackend = manager.addController(
    keyBackendController({ connections, backendMetrics: new BackendMetrics(manager.metrics.registry) }),
  );
  keyBackend.informer.addHandlers({
    delete: (deleted) => void connections.close(deleted.metadata.name ?? ''),
  });
  // Public keys are cached per version for the life of the process; a deleted key's entries go with it.
  const publicKeys = new PublicKeyCache();
  managedKeys.addHandlers({
    delete: (deleted) => {
      publicKeys.forget(deleted);
    },
  });
  const managedKey = manager.addController(
    managedKeyController({
      connections,
      keyBackends,
      namespaces: manager.informer<KubeObject>({ resource: builtinResources.namespaces }),
      configMaps: manager.informer<ConfigMap>({
        resource: builtinResources.configMaps,
        labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
      }),
      publicKeys,
      countRotation: (result) => {
        rotations.inc({ result });
      },
      keysUsingBackend,
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
  // Keys held back by a condition, for the chart's alerts (KeywardKeyMissing).
  manager.metrics.scrapeTimeGauge({
    name: 'keyward_managed_keys_unhealthy',
    help: 'ManagedKeys whose Ready or VersionsIntact condition is False, by condition, reason and KeyBackend.',
    labelNames: ['condition', 'reason', 'backend'],
    collect: () => {
      const counts = new Map<string, number>();
      for (const key of managedKeys.list()) {
        for (const type of [ConditionType.Ready, ConditionType.VersionsIntact]) {
          const condition = findCondition(key.status?.conditions, type);
          if (condition?.status !== 'False') continue;
          const id = JSON.stringify([type, condition.reason, key.spec.backendRef.name]);
          counts.set(id, (counts.get(id) ?? 0) + 1);
        }
      }
      return [...counts].map(([id, value]) => {
        const [condition, reason, backend] = JSON.parse(id) as [string, string, string];
        return { labels: { condition, reason, backend }, value };
      });
    },
  });
  addBackendMetrics(manager, keyBackends);
  if (config.perKeyMetrics) addPerKeyMetrics(manager, managedKeys);
  addKeyCeremonyControllers(manager, connections);
}

/** Per-key series, computed at scrape time from the cache (namespace and name labels: one series per key). */
function addPerKeyMetrics(manager: Manager, managedKeys: Informer<ManagedKeyObject>): void {
  const perKey = (
    name: string,
    help: string,
    value: (key: ManagedKeyObject, now: number) => number | undefined,
  ): void => {
    manager.metrics.scrapeTimeGauge({
      name,
      help,
      labelNames: ['namespace', 'name'],
      collect: () => {
        const now = manager.clock.now();
        return managedKeys.list().flatMap((key) => {
          const sample = value(key, now);
          const labels = { namespace: key.metadata.namespace ?? '', name: key.metadata.name ?? '' };
          return sample === undefined ? [] : [{ labels, value: sample }];
        });
      },
    });
  };
  const created = (key: ManagedKeyObject): number | undefined => {
    const current = key.status?.versions?.find((v) => v.version === key.status?.currentVersion);
    return current ? Date.parse(current.createdTime) : undefined;
  };
  perKey(
    'keyward_key_next_rotation_timestamp_seconds',
    'When the ManagedKey rotates next, in seconds since the epoch.',
    (key) => (key.status?.nextRotationTime ? Date.parse(key.status.nextRotationTime) / 1000 : undefined),
  );
  perKey('keyward_key_age_seconds', 'Age of the current version of the ManagedKey.', (key, now) => {
    const since = created(key);
    return since === undefined ? undefined : (now - since) / 1000;
  });
  perKey(
    'keyward_key_rotation_overdue',
    '1 when the current version has outlived its cryptoperiod (rotation.period), else 0.',
    (key, now) => {
      const since = created(key);
      const period = key.spec.rotation?.period;
      if (since === undefined || !period) return undefined;
      return now > since + parseDuration(period) ? 1 : 0;
    },
  );
}
