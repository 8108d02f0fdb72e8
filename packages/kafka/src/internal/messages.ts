/**
 * The Kafka messages this proxy decodes, at the versions of Kafka 3.7 (the versions Ockam 0.139's
 * kafka-protocol 0.10.2 knows, KAFKA.md §1.6), transcribed from Kafka's message definitions
 * (clients/src/main/resources/common/message/<Name>.json at tag 3.7.2). Tagged fields are not
 * listed: they are carried through raw (schema.ts).
 */
import { f, type MessageSchema } from './schema.js';

export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  Metadata: 3,
  LeaderAndIsr: 4,
  UpdateMetadata: 6,
  FindCoordinator: 10,
  ApiVersions: 18,
} as const;

/**
 * Every api key of Kafka 3.7.2: [key, first flexible request version (header v2), name], read from
 * `ApiKeys.requestHeaderVersion` of kafka-clients 3.7.2. -1: never flexible. ControlledShutdown v0
 * is the one request with header v0 (no client id).
 */
const API_TABLE: ReadonlyArray<readonly [number, number, string]> = [
  [0, 9, 'Produce'],
  [1, 12, 'Fetch'],
  [2, 6, 'ListOffsets'],
  [3, 9, 'Metadata'],
  [4, 4, 'LeaderAndIsr'],
  [5, 2, 'StopReplica'],
  [6, 6, 'UpdateMetadata'],
  [7, 3, 'ControlledShutdown'],
  [8, 8, 'OffsetCommit'],
  [9, 6, 'OffsetFetch'],
  [10, 3, 'FindCoordinator'],
  [11, 6, 'JoinGroup'],
  [12, 4, 'Heartbeat'],
  [13, 4, 'LeaveGroup'],
  [14, 4, 'SyncGroup'],
  [15, 5, 'DescribeGroups'],
  [16, 3, 'ListGroups'],
  [17, -1, 'SaslHandshake'],
  [18, 3, 'ApiVersions'],
  [19, 5, 'CreateTopics'],
  [20, 4, 'DeleteTopics'],
  [21, 2, 'DeleteRecords'],
  [22, 2, 'InitProducerId'],
  [23, 4, 'OffsetForLeaderEpoch'],
  [24, 3, 'AddPartitionsToTxn'],
  [25, 3, 'AddOffsetsToTxn'],
  [26, 3, 'EndTxn'],
  [27, 1, 'WriteTxnMarkers'],
  [28, 3, 'TxnOffsetCommit'],
  [29, 2, 'DescribeAcls'],
  [30, 2, 'CreateAcls'],
  [31, 2, 'DeleteAcls'],
  [32, 4, 'DescribeConfigs'],
  [33, 2, 'AlterConfigs'],
  [34, 2, 'AlterReplicaLogDirs'],
  [35, 2, 'DescribeLogDirs'],
  [36, 2, 'SaslAuthenticate'],
  [37, 2, 'CreatePartitions'],
  [38, 2, 'CreateDelegationToken'],
  [39, 2, 'RenewDelegationToken'],
  [40, 2, 'ExpireDelegationToken'],
  [41, 2, 'DescribeDelegationToken'],
  [42, 2, 'DeleteGroups'],
  [43, 2, 'ElectLeaders'],
  [44, 1, 'IncrementalAlterConfigs'],
  [45, 0, 'AlterPartitionReassignments'],
  [46, 0, 'ListPartitionReassignments'],
  [47, -1, 'OffsetDelete'],
  [48, 1, 'DescribeClientQuotas'],
  [49, 1, 'AlterClientQuotas'],
  [50, 0, 'DescribeUserScramCredentials'],
  [51, 0, 'AlterUserScramCredentials'],
  [52, 0, 'Vote'],
  [53, -1, 'BeginQuorumEpoch'],
  [54, -1, 'EndQuorumEpoch'],
  [55, 0, 'DescribeQuorum'],
  [56, 0, 'AlterPartition'],
  [57, 0, 'UpdateFeatures'],
  [58, 0, 'Envelope'],
  [59, 0, 'FetchSnapshot'],
  [60, 0, 'DescribeCluster'],
  [61, 0, 'DescribeProducers'],
  [62, 0, 'BrokerRegistration'],
  [63, 0, 'BrokerHeartbeat'],
  [64, 0, 'UnregisterBroker'],
  [65, 0, 'DescribeTransactions'],
  [66, 0, 'ListTransactions'],
  [67, 0, 'AllocateProducerIds'],
  [68, 0, 'ConsumerGroupHeartbeat'],
  [69, 0, 'ConsumerGroupDescribe'],
  [70, 0, 'ControllerRegistration'],
  [71, 0, 'GetTelemetrySubscriptions'],
  [72, 0, 'PushTelemetry'],
  [73, 0, 'AssignReplicasToDirs'],
  [74, 0, 'ListClientMetricsResources'],
];

export interface ApiInfo {
  readonly name: string;
  /** First request version with header v2 (flexible), or Infinity. */
  readonly flexible: number;
}

export const APIS: ReadonlyMap<number, ApiInfo> = new Map(
  API_TABLE.map(([key, flex, name]) => [key, { name, flexible: flex < 0 ? Number.POSITIVE_INFINITY : flex }]),
);

/** Request header version (KIP-482): 2 when flexible, 0 for ControlledShutdown v0, else 1. */
export function requestHeaderVersion(apiKey: number, version: number): 0 | 1 | 2 {
  if (apiKey === 7 && version === 0) return 0;
  return version >= (APIS.get(apiKey)?.flexible ?? Number.POSITIVE_INFINITY) ? 2 : 1;
}

/** Response header version: 1 (tagged fields) when flexible, except ApiVersions, always 0 (KIP-511). */
export function responseHeaderVersion(apiKey: number, version: number): 0 | 1 {
  if (apiKey === ApiKey.ApiVersions) return 0;
  return requestHeaderVersion(apiKey, version) === 2 ? 1 : 0;
}

/** The highest version this proxy decodes, per intercepted API (Kafka 3.7). */
export const MAX_VERSION: ReadonlyMap<number, number> = new Map([
  [ApiKey.Produce, 10],
  [ApiKey.Fetch, 16],
  [ApiKey.Metadata, 12],
  [ApiKey.FindCoordinator, 4],
  [ApiKey.ApiVersions, 3],
]);

/** The lowest versions whose record data is a v2 record batch (magic 2), needed to encrypt/decrypt. */
export const MIN_RECORDS_VERSION: ReadonlyMap<number, number> = new Map([
  [ApiKey.Produce, 3],
  [ApiKey.Fetch, 4],
]);

export const MetadataResponse: MessageSchema = {
  name: 'MetadataResponse',
  flexible: 9,
  fields: [
    f('ThrottleTimeMs', 'int32', '3+'),
    f('Brokers', {
      array: [f('NodeId', 'int32'), f('Host', 'string'), f('Port', 'int32'), f('Rack', 'string', '1+')],
    }),
    f('ClusterId', 'string', '2+'),
    f('ControllerId', 'int32', '1+'),
    f('Topics', {
      array: [
        f('ErrorCode', 'int16'),
        f('Name', 'string'),
        f('TopicId', 'uuid', '10+'),
        f('IsInternal', 'bool', '1+'),
        f('Partitions', {
          array: [
            f('ErrorCode', 'int16'),
            f('PartitionIndex', 'int32'),
            f('LeaderId', 'int32'),
            f('LeaderEpoch', 'int32', '7+'),
            f('ReplicaNodes', { array: 'int32' }),
            f('IsrNodes', { array: 'int32' }),
            f('OfflineReplicas', { array: 'int32' }, '5+'),
          ],
        }),
        f('TopicAuthorizedOperations', 'int32', '8+'),
      ],
    }),
    f('ClusterAuthorizedOperations', 'int32', '8-10'),
  ],
};

export const FindCoordinatorResponse: MessageSchema = {
  name: 'FindCoordinatorResponse',
  flexible: 3,
  fields: [
    f('ThrottleTimeMs', 'int32', '1+'),
    f('ErrorCode', 'int16', '0-3'),
    f('ErrorMessage', 'string', '1-3'),
    f('NodeId', 'int32', '0-3'),
    f('Host', 'string', '0-3'),
    f('Port', 'int32', '0-3'),
    f(
      'Coordinators',
      {
        array: [
          f('Key', 'string'),
          f('NodeId', 'int32'),
          f('Host', 'string'),
          f('Port', 'int32'),
          f('ErrorCode', 'int16'),
          f('ErrorMessage', 'string'),
        ],
      },
      '4+',
    ),
  ],
};

export const ApiVersionsResponse: MessageSchema = {
  name: 'ApiVersionsResponse',
  flexible: 3,
  fields: [
    f('ErrorCode', 'int16'),
    f('ApiKeys', { array: [f('ApiKey', 'int16'), f('MinVersion', 'int16'), f('MaxVersion', 'int16')] }),
    f('ThrottleTimeMs', 'int32', '1+'),
  ],
};

export const ProduceRequest: MessageSchema = {
  name: 'ProduceRequest',
  flexible: 9,
  fields: [
    f('TransactionalId', 'string', '3+'),
    f('Acks', 'int16'),
    f('TimeoutMs', 'int32'),
    f('TopicData', {
      array: [
        f('Name', 'string'),
        f('PartitionData', { array: [f('Index', 'int32'), f('Records', 'bytes')] }),
      ],
    }),
  ],
};

export const ProduceResponse: MessageSchema = {
  name: 'ProduceResponse',
  flexible: 9,
  fields: [
    f('Responses', {
      array: [
        f('Name', 'string'),
        f('PartitionResponses', {
          array: [
            f('Index', 'int32'),
            f('ErrorCode', 'int16'),
            f('BaseOffset', 'int64'),
            f('LogAppendTimeMs', 'int64', '2+'),
            f('LogStartOffset', 'int64', '5+'),
            f(
              'RecordErrors',
              { array: [f('BatchIndex', 'int32'), f('BatchIndexErrorMessage', 'string')] },
              '8+',
            ),
            f('ErrorMessage', 'string', '8+'),
          ],
        }),
      ],
    }),
    f('ThrottleTimeMs', 'int32', '1+'),
  ],
};

export const FetchRequest: MessageSchema = {
  name: 'FetchRequest',
  flexible: 12,
  fields: [
    f('ReplicaId', 'int32', '0-14'),
    f('MaxWaitMs', 'int32'),
    f('MinBytes', 'int32'),
    f('MaxBytes', 'int32', '3+'),
    f('IsolationLevel', 'int8', '4+'),
    f('SessionId', 'int32', '7+'),
    f('SessionEpoch', 'int32', '7+'),
    f('Topics', {
      array: [
        f('Topic', 'string', '0-12'),
        f('TopicId', 'uuid', '13+'),
        f('Partitions', {
          array: [
            f('Partition', 'int32'),
            f('CurrentLeaderEpoch', 'int32', '9+'),
            f('FetchOffset', 'int64'),
            f('LastFetchedEpoch', 'int32', '12+'),
            f('LogStartOffset', 'int64', '5+'),
            f('PartitionMaxBytes', 'int32'),
          ],
        }),
      ],
    }),
    f(
      'ForgottenTopicsData',
      {
        array: [
          f('Topic', 'string', '7-12'),
          f('TopicId', 'uuid', '13+'),
          f('Partitions', { array: 'int32' }),
        ],
      },
      '7+',
    ),
    f('RackId', 'string', '11+'),
  ],
};

export const FetchResponse: MessageSchema = {
  name: 'FetchResponse',
  flexible: 12,
  fields: [
    f('ThrottleTimeMs', 'int32', '1+'),
    f('ErrorCode', 'int16', '7+'),
    f('SessionId', 'int32', '7+'),
    f('Responses', {
      array: [
        f('Topic', 'string', '0-12'),
        f('TopicId', 'uuid', '13+'),
        f('Partitions', {
          array: [
            f('PartitionIndex', 'int32'),
            f('ErrorCode', 'int16'),
            f('HighWatermark', 'int64'),
            f('LastStableOffset', 'int64', '4+'),
            f('LogStartOffset', 'int64', '5+'),
            f('AbortedTransactions', { array: [f('ProducerId', 'int64'), f('FirstOffset', 'int64')] }, '4+'),
            f('PreferredReadReplica', 'int32', '11+'),
            f('Records', 'bytes'),
          ],
        }),
      ],
    }),
  ],
};
