// Wires the ceremony controllers into the manager, with the caches and metrics they share.
import type { KeyBackendObject } from '../../api/v1alpha1/keybackend.ts';
import { CEREMONY_PHASES } from '../../api/v1alpha1/keyceremony.ts';
import type { KeyCeremonyObject } from '../../api/v1alpha1/keyceremony.ts';
import type { KeyCeremonyApprovalObject } from '../../api/v1alpha1/keyceremonyapproval.ts';
import { builtinResources } from '../../kube/resource.ts';
import { Counter } from 'prom-client';
import type { Manager } from '../../runtime/manager.ts';
import type { BackendConnections } from '../keybackend/connections.ts';
import { keyBackendType } from '../keybackend/controller.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../managedkey/distribution.ts';
import type { ConfigMap } from '../managedkey/distribution.ts';
import { keyApprovalController } from './approval-controller.ts';
import { keyApprovalType, keyCeremonyType } from './context.ts';
import { keyCeremonyController } from './controller.ts';
import { BY_CEREMONY } from './view.ts';

export function addKeyCeremonyControllers(manager: Manager, connections: BackendConnections): void {
  const ceremonies = manager.informer<KeyCeremonyObject>({ resource: keyCeremonyType });
  const approvals = manager.informer<KeyCeremonyApprovalObject>({ resource: keyApprovalType });
  approvals.addIndex(BY_CEREMONY, (a) => [`${a.metadata.namespace ?? ''}/${a.spec.ceremonyRef.name}`]);
  const results = new Counter({
    name: 'keyward_ceremonies_total',
    help: 'KeyCeremonies that ended, by result (Completed, Failed, Expired).',
    labelNames: ['result'],
    registers: [manager.metrics.registry],
  });
  manager.addController(
    keyCeremonyController({
      keyBackends: manager.informer<KeyBackendObject>({ resource: keyBackendType }),
      ceremonies,
      approvals,
      configMaps: manager.informer<ConfigMap>({
        resource: builtinResources.configMaps,
        labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
      }),
      countResult: (result) => {
        results.inc({ result });
      },
      connections,
    }),
  );
  manager.addController(keyApprovalController({ ceremonies, approvals }));

  manager.metrics.scrapeTimeGauge({
    name: 'keyward_ceremony_phase',
    help: 'KeyCeremonies by phase.',
    labelNames: ['phase'],
    collect: () =>
      CEREMONY_PHASES.map((phase) => ({
        labels: { phase },
        value: ceremonies.list().filter((c) => (c.status?.phase ?? 'Preparation') === phase).length,
      })),
  });
  manager.metrics.scrapeTimeGauge({
    name: 'keyward_ceremony_approvals',
    help: 'Verified custodian approvals of each KeyCeremony.',
    labelNames: ['namespace', 'name'],
    collect: () =>
      ceremonies.list().map((c) => ({
        labels: { namespace: c.metadata.namespace ?? '', name: c.metadata.name ?? '' },
        value: c.status?.approvals?.received ?? 0,
      })),
  });
}
