// Backend metrics computed at scrape time from the KeyBackends' status, as the KeyBackend controller last wrote it:
// no per-backend state to keep in step, and nothing to write when a value changes.
import { ConditionType } from '../../api/v1alpha1/conditions.ts';
import type { KeyBackendObject } from '../../api/v1alpha1/keybackend.ts';
import { isConditionTrue } from '../../runtime/conditions.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { Manager } from '../../runtime/manager.ts';

interface Sample {
  labels: { backend: string };
  value: number;
}

/** HSMs in each AWS CloudHSM cluster: 1 means no high availability, and keys that may not be durable. */
export function cloudHsmClusterHsms(keyBackends: readonly KeyBackendObject[]): Sample[] {
  return keyBackends.flatMap((kb) => {
    const count = kb.spec.awsCloudHSM ? kb.status?.info?.hsmCount : undefined;
    return count === undefined ? [] : [{ labels: { backend: kb.metadata.name ?? '' }, value: count }];
  });
}

/** Seconds since each AWS CloudHSM cluster's newest completed backup. */
export function cloudHsmBackupAge(keyBackends: readonly KeyBackendObject[], now: number): Sample[] {
  return keyBackends.flatMap((kb) => {
    const taken = kb.spec.awsCloudHSM ? kb.status?.info?.latestBackupTime : undefined;
    return taken === undefined
      ? []
      : [{ labels: { backend: kb.metadata.name ?? '' }, value: (now - Date.parse(taken)) / 1000 }];
  });
}

/** 1 for each KeyBackend whose Ready condition is True, else 0 (the chart's KeywardBackendNotReady alert). */
export function backendReady(keyBackends: readonly KeyBackendObject[]): Sample[] {
  return keyBackends.map((kb) => ({
    labels: { backend: kb.metadata.name ?? '' },
    value: isConditionTrue(kb.status?.conditions, ConditionType.Ready) ? 1 : 0,
  }));
}

export function addBackendMetrics(manager: Manager, keyBackends: Informer<KeyBackendObject>): void {
  manager.metrics.scrapeTimeGauge({
    name: 'keyward_backend_ready',
    help: '1 when the KeyBackend is Ready (its Ready condition is True), else 0.',
    labelNames: ['backend'],
    collect: () => backendReady(keyBackends.list()),
  });
  manager.metrics.scrapeTimeGauge({
    name: 'keyward_cloudhsm_cluster_hsms',
    help: 'HSMs in the AWS CloudHSM cluster of a KeyBackend (1: no high availability).',
    labelNames: ['backend'],
    collect: () => cloudHsmClusterHsms(keyBackends.list()),
  });
  manager.metrics.scrapeTimeGauge({
    name: 'keyward_cloudhsm_backup_age_seconds',
    help: "Seconds since the newest completed backup of a KeyBackend's AWS CloudHSM cluster.",
    labelNames: ['backend'],
    collect: () => cloudHsmBackupAge(keyBackends.list(), manager.clock.now()),
  });
}
