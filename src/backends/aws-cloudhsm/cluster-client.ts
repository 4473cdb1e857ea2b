// The CloudHSM v2 API calls behind cluster health: the cluster by id, and its newest completed backup.

import { CloudHSMV2 } from '@aws-sdk/client-cloudhsm-v2';
import type { CallOptions } from '../backend.ts';
import { type AwsClientConfig, awsCall } from '../aws/client-config.ts';
import { type ClusterHealth, clusterHealth } from './cluster-health.ts';

export class CloudHsmClusterClient {
  readonly clusterId: string;
  readonly #client: CloudHSMV2;

  constructor(config: AwsClientConfig, clusterId: string) {
    this.clusterId = clusterId;
    // @aws-sdk/client-cloudhsm-v2 is at 3.332, whose client takes no plain request handler options; awsCall's deadline
    // bounds each call instead.
    this.#client = new CloudHSMV2({ ...config, requestHandler: undefined });
  }

  async health(options?: CallOptions): Promise<ClusterHealth> {
    const clusters = await awsCall('CloudHSM DescribeClusters', options, (abortSignal) =>
      this.#client.describeClusters({ Filters: { clusterIds: [this.clusterId] } }, { abortSignal }),
    );
    const cluster = clusters.Clusters?.find((c) => c.ClusterId === this.clusterId);
    // Newest first, one page: only the latest completed backup matters.
    const backups =
      cluster === undefined
        ? { Backups: [] }
        : await awsCall('CloudHSM DescribeBackups', options, (abortSignal) =>
            this.#client.describeBackups(
              {
                Filters: { clusterIds: [this.clusterId], states: ['READY'] },
                SortAscending: false,
                MaxResults: 5,
              },
              { abortSignal },
            ),
          );
    return clusterHealth(this.clusterId, cluster, backups.Backups ?? []);
  }

  close(): void {
    this.#client.destroy();
  }
}
