// A CloudHSM cluster's state, HSMs and backups (DescribeClusters, DescribeBackups) as backend health: what stops the
// backend is thrown as a BackendError, what does not stop it becomes a warning. Pure, so that the states moto cannot
// make (DEGRADED, UNINITIALIZED, several HSMs) are tested with responses shaped as the API reference documents them.

import type { Backup, Cluster } from '@aws-sdk/client-cloudhsm-v2';
import type { BackendInfo } from '../backend.ts';
import { MisconfiguredError, RetryableError, TokenNotFoundError } from '../errors.ts';

/** CloudHSM backs a cluster up at least once a day; a newest backup older than this is worth a warning. */
export const BACKUP_WARNING_AGE_MS = 48 * 3600 * 1000;

/** The cluster part of BackendInfo. */
export type ClusterInfo = Required<Pick<BackendInfo, 'state' | 'hsmCount' | 'availabilityZones'>> &
  Pick<BackendInfo, 'latestBackupTime'> & { readonly hsmType?: string };

export interface ClusterHealth {
  readonly info: ClusterInfo;
  readonly warnings: readonly string[];
}

/** States in which keys can be used, with the warning each one deserves. */
const USABLE: Readonly<Record<string, string | undefined>> = {
  ACTIVE: undefined,
  DEGRADED: 'the cluster is DEGRADED: an HSM failed or cannot be reached, and AWS is replacing it',
  UPDATE_IN_PROGRESS: 'the cluster is being updated',
  MODIFY_IN_PROGRESS: 'the cluster is being modified',
};

/** States the cluster leaves by itself: check again later. */
const TRANSIENT = new Set(['CREATE_IN_PROGRESS', 'INITIALIZE_IN_PROGRESS', 'ROLLBACK_IN_PROGRESS']);

/** States that need a person: initialise and activate the cluster. */
const NOT_SET_UP = new Set(['UNINITIALIZED', 'INITIALIZED']);

function assertUsable(clusterId: string, state: string, message: string | undefined): void {
  if (state in USABLE) return;
  const why = `CloudHSM cluster ${clusterId} is ${state}${message ? ` (${message})` : ''}`;
  if (TRANSIENT.has(state)) throw new RetryableError(`${why}; keys cannot be used until it is ACTIVE`);
  if (NOT_SET_UP.has(state)) {
    throw new MisconfiguredError(
      `${why}: initialize and activate it (a crypto user must exist) before Keyward can use it`,
    );
  }
  if (state === 'DELETE_IN_PROGRESS' || state === 'DELETED') throw new TokenNotFoundError(why);
  throw new MisconfiguredError(`${why}; Keyward needs it ACTIVE`);
}

function hsmWarnings(active: number, zones: readonly string[]): string[] {
  if (active === 0) {
    return ['the cluster has no active HSM: keys cannot be created or used until an HSM is added'];
  }
  if (active === 1) {
    return [
      'the cluster has one HSM: no high availability, and a key created now exists on that HSM alone until the next backup (the CloudHSM library refuses to create keys on a single HSM unless its key availability check is disabled); add an HSM in another Availability Zone',
    ];
  }
  return zones.length === 1
    ? [
        `all ${active} HSMs are in one Availability Zone (${zones[0] ?? ''}): an outage of that zone stops the cluster`,
      ]
    : [];
}

/**
 * `cluster` is the cluster DescribeClusters returned for the id (undefined when none), `backups` its READY
 * backups, any order.
 */
export function clusterHealth(
  clusterId: string,
  cluster: Cluster | undefined,
  backups: readonly Backup[],
  now = Date.now(),
): ClusterHealth {
  if (cluster === undefined)
    throw new TokenNotFoundError(`CloudHSM cluster ${clusterId} does not exist in this region`);
  const state = cluster.State ?? 'UNKNOWN';
  assertUsable(clusterId, state, cluster.StateMessage);
  const hsms = (cluster.Hsms ?? []).filter((hsm) => hsm.State !== 'DELETED');
  const active = hsms.filter((hsm) => hsm.State === 'ACTIVE');
  const zones = [
    ...new Set(active.flatMap((hsm) => (hsm.AvailabilityZone ? [hsm.AvailabilityZone] : []))),
  ].sort();
  const unhealthy = hsms
    .filter((hsm) => hsm.State !== 'ACTIVE')
    .map(
      (hsm) =>
        `HSM ${hsm.HsmId ?? '?'} is ${hsm.State ?? 'in an unknown state'}${hsm.StateMessage ? ` (${hsm.StateMessage})` : ''}`,
    );
  const times = backups.flatMap((b) =>
    b.BackupState === 'READY' && b.CreateTimestamp ? [b.CreateTimestamp.getTime()] : [],
  );
  const latestBackupTime = times.length === 0 ? undefined : Math.max(...times);
  const backupWarnings =
    latestBackupTime === undefined
      ? ['the cluster has no completed backup: keys made since it was created exist only on its HSMs']
      : now - latestBackupTime > BACKUP_WARNING_AGE_MS
        ? [`the newest backup is from ${new Date(latestBackupTime).toISOString()}, more than two days ago`]
        : [];
  const stateWarning = USABLE[state];
  return {
    info: {
      state,
      hsmCount: hsms.length,
      availabilityZones: zones,
      ...(latestBackupTime === undefined ? {} : { latestBackupTime }),
      ...(cluster.HsmType ? { hsmType: cluster.HsmType } : {}),
    },
    warnings: [
      ...(stateWarning ? [stateWarning] : []),
      ...hsmWarnings(active.length, zones),
      ...unhealthy,
      ...backupWarnings,
    ],
  };
}
