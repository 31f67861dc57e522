/**
 * TypeScript shapes of the CNPG-I messages as protobufjs hands them over with the conversion options of
 * load-protos.ts: field names as in the .proto files (snake_case), enums as their names, int64 as numbers,
 * bytes as Buffers, every non-optional field present with its default, proto3 `optional` fields undefined when
 * unset, and a oneof's name giving the member that is set. Written from proto/cnpgi/*.proto; keep both in step.
 */

export type Bytes = Buffer | Uint8Array;
export type Empty = Record<string, never>;

// --- cnpgi.identity.v1.Identity -------------------------------------------------------------------------

export type PluginServiceType =
  | 'TYPE_UNSPECIFIED' | 'TYPE_OPERATOR_SERVICE' | 'TYPE_WAL_SERVICE' | 'TYPE_BACKUP_SERVICE'
  | 'TYPE_LIFECYCLE_SERVICE' | 'TYPE_RECONCILER_HOOKS' | 'TYPE_RESTORE_JOB' | 'TYPE_POSTGRES'
  | 'TYPE_INSTANCE_SIDECAR_INJECTION' | 'TYPE_INSTANCE_JOB_SIDECAR_INJECTION' | 'TYPE_METRICS';

export interface GetPluginMetadataResponse {
  name: string;
  version: string;
  display_name: string;
  description: string;
  project_url: string;
  repository_url: string;
  license: string;
  license_url: string;
  maturity: string;
  vendor: string;
  manifest: Record<string, string>;
}

export interface PluginCapability { service?: { type: PluginServiceType }; type?: 'service' }
export interface GetPluginCapabilitiesResponse { capabilities: PluginCapability[] }
export interface ProbeResponse { ready: boolean }

// --- cnpgi.wal.v1.WAL ------------------------------------------------------------------------------------

export type WalRpcType = 'TYPE_UNSPECIFIED' | 'TYPE_ARCHIVE_WAL' | 'TYPE_RESTORE_WAL' | 'TYPE_STATUS' | 'TYPE_SET_FIRST_REQUIRED';
export interface WalCapabilitiesResult { capabilities: Array<{ rpc?: { type: WalRpcType }; type?: 'rpc' }> }

export interface WalArchiveRequest {
  cluster_definition: Bytes;
  source_file_name: string;
  parameters: Record<string, string>;
  check_empty_wal_archive?: boolean;
}

export type WalRestoreMode = 'MODE_UNSPECIFIED' | 'MODE_RECOVERY' | 'MODE_REWIND';
export interface WalRestoreRequest {
  cluster_definition: Bytes;
  source_wal_name: string;
  destination_file_name: string;
  parameters: Record<string, string>;
  mode: WalRestoreMode;
}

export interface WalStatusRequest { cluster_definition: Bytes }
export interface WalStatusResult { first_wal: string; last_wal: string; additional_information: Record<string, string> }
export interface SetFirstRequiredRequest { cluster_definition: Bytes; first_required_wal: string }

// --- cnpgi.backup.v1.Backup ------------------------------------------------------------------------------

export interface BackupCapabilitiesResult { capabilities: Array<{ rpc?: { type: 'TYPE_UNSPECIFIED' | 'TYPE_BACKUP' }; type?: 'rpc' }> }
export interface BackupRequest { cluster_definition: Bytes; backup_definition: Bytes; parameters: Record<string, string> }
export interface BackupResult {
  backup_id: string;
  backup_name: string;
  /** Unix seconds. */
  started_at: number;
  stopped_at: number;
  begin_wal: string;
  end_wal: string;
  begin_lsn: string;
  end_lsn: string;
  backup_label_file: Bytes;
  tablespace_map_file: Bytes;
  instance_id: string;
  online: boolean;
  metadata: Record<string, string>;
}

// --- cnpgi.wal.v1.RestoreJobHooks ------------------------------------------------------------------------

export interface RestoreJobHooksCapabilitiesResult { capabilities: Array<{ kind: 'KIND_UNSPECIFIED' | 'KIND_RESTORE' }> }
export interface RestoreRequest { cluster_definition: Bytes; check_empty_wal_archive?: boolean }
export interface RestoreResponse { restore_config: string; envs: string[] }

// --- cnpgi.operator_lifecycle.v1.OperatorLifecycle -------------------------------------------------------

export type OperatorOperationTypeName =
  | 'TYPE_UNSPECIFIED' | 'TYPE_PATCH' | 'TYPE_UPDATE' | 'TYPE_CREATE' | 'TYPE_DELETE' | 'TYPE_DEREGISTER' | 'TYPE_EVALUATE';
export interface OperatorOperationType { type: OperatorOperationTypeName }
export interface OperatorLifecycleCapabilities { group: string; kind: string; operation_types: OperatorOperationType[] }
export interface OperatorLifecycleCapabilitiesResponse { lifecycle_capabilities: OperatorLifecycleCapabilities[] }
export interface OperatorLifecycleRequest { operation_type?: OperatorOperationType | null; cluster_definition: Bytes; object_definition: Bytes }
export interface OperatorLifecycleResponse { json_patch: Bytes }

// --- cnpgi.reconciler.v1.ReconcilerHooks -----------------------------------------------------------------

export interface ReconcilerHooksCapabilitiesResult { reconciler_capabilities: Array<{ kind: 'KIND_UNSPECIFIED' | 'KIND_CLUSTER' | 'KIND_BACKUP' }> }
export interface ReconcilerHooksRequest { cluster_definition: Bytes; resource_definition: Bytes }
export interface ReconcilerHooksResult {
  behavior: 'BEHAVIOR_UNSPECIFIED' | 'BEHAVIOR_CONTINUE' | 'BEHAVIOR_REQUEUE' | 'BEHAVIOR_TERMINATE';
  /** Seconds. */
  requeue_after: number;
}

// --- cnpgi.operator.v1.Operator --------------------------------------------------------------------------

export type OperatorRpcType =
  | 'TYPE_UNSPECIFIED' | 'TYPE_VALIDATE_CLUSTER_CREATE' | 'TYPE_VALIDATE_CLUSTER_CHANGE' | 'TYPE_MUTATE_CLUSTER'
  | 'TYPE_SET_STATUS_IN_CLUSTER' | 'TYPE_DEREGISTER';
export interface OperatorCapabilitiesResult { capabilities: Array<{ rpc?: { type: OperatorRpcType }; type?: 'rpc' }> }
export interface ValidationError { path_components: string[]; value: string; message: string }
export interface OperatorValidateClusterCreateRequest { definition: Bytes }
export interface OperatorValidateClusterChangeRequest { old_cluster: Bytes; new_cluster: Bytes }
export interface OperatorValidateClusterResult { validation_errors: ValidationError[] }
export interface OperatorMutateClusterRequest { definition: Bytes }
export interface OperatorMutateClusterResult { json_patch: Bytes }
export interface SetStatusInClusterRequest { cluster: Bytes }
export interface SetStatusInClusterResponse { json_status: Bytes }
export interface DeregisterRequest { definition: Bytes }

// --- cnpgi.metrics.v1.Metrics ----------------------------------------------------------------------------

export type MetricValueType = 'TYPE_UNSPECIFIED' | 'TYPE_COUNTER' | 'TYPE_GAUGE' | 'TYPE_UNTYPED';
export interface MetricsCapabilitiesResult { capabilities: Array<{ rpc?: { type: 'TYPE_UNSPECIFIED' | 'TYPE_METRICS' }; type?: 'rpc' }> }
export interface MetricsRequest { cluster_definition: Bytes }
export interface MetricDefinition {
  fq_name: string;
  help: string;
  variable_labels: string[];
  const_labels: Record<string, string>;
  value_type: { type: MetricValueType };
}
export interface DefineMetricsResult { metrics: MetricDefinition[] }
export interface CollectedMetric { value: number; fq_name: string; variable_labels: string[] }
export interface CollectMetricsResult { metrics: CollectedMetric[] }

// --- cnpgi.identity.v1.Postgres --------------------------------------------------------------------------

export interface PostgresCapabilitiesResult { capabilities: Array<{ rpc?: { type: 'TYPE_UNSPECIFIED' | 'TYPE_ENRICH_CONFIGURATION' }; type?: 'rpc' }> }
export interface EnrichConfigurationRequest {
  configs: Record<string, string>;
  cluster_definition: Bytes;
  operation_type?: { type: 'TYPE_UNSPECIFIED' | 'TYPE_INIT' | 'TYPE_RESTORE' | 'TYPE_RECONCILE' | 'TYPE_UPGRADE' } | null;
}
export interface EnrichConfigurationResult { configs: Record<string, string> }

// --- grpc.health.v1.Health -------------------------------------------------------------------------------

export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
export interface HealthCheckRequest { service: string }
export interface HealthCheckResponse { status: ServingStatus }

/**
 * Every service: method name → [request, response]. Server implementations and clients are typed from it
 * (service-types.ts). The Health Watch stream is handled apart (health-service.ts).
 */
export interface CnpgiMethods {
  Identity: {
    GetPluginMetadata: [Empty, GetPluginMetadataResponse];
    GetPluginCapabilities: [Empty, GetPluginCapabilitiesResponse];
    Probe: [Empty, ProbeResponse];
  };
  WAL: {
    GetCapabilities: [Empty, WalCapabilitiesResult];
    Archive: [WalArchiveRequest, Empty];
    Restore: [WalRestoreRequest, Empty];
    Status: [WalStatusRequest, WalStatusResult];
    SetFirstRequired: [SetFirstRequiredRequest, Empty];
  };
  Backup: {
    GetCapabilities: [Empty, BackupCapabilitiesResult];
    Backup: [BackupRequest, BackupResult];
  };
  RestoreJobHooks: {
    GetCapabilities: [Empty, RestoreJobHooksCapabilitiesResult];
    Restore: [RestoreRequest, RestoreResponse];
  };
  OperatorLifecycle: {
    GetCapabilities: [Empty, OperatorLifecycleCapabilitiesResponse];
    LifecycleHook: [OperatorLifecycleRequest, OperatorLifecycleResponse];
  };
  ReconcilerHooks: {
    GetCapabilities: [Empty, ReconcilerHooksCapabilitiesResult];
    Pre: [ReconcilerHooksRequest, ReconcilerHooksResult];
    Post: [ReconcilerHooksRequest, ReconcilerHooksResult];
  };
  Operator: {
    GetCapabilities: [Empty, OperatorCapabilitiesResult];
    ValidateClusterCreate: [OperatorValidateClusterCreateRequest, OperatorValidateClusterResult];
    ValidateClusterChange: [OperatorValidateClusterChangeRequest, OperatorValidateClusterResult];
    MutateCluster: [OperatorMutateClusterRequest, OperatorMutateClusterResult];
    SetStatusInCluster: [SetStatusInClusterRequest, SetStatusInClusterResponse];
    Deregister: [DeregisterRequest, Empty];
  };
  Metrics: {
    GetCapabilities: [Empty, MetricsCapabilitiesResult];
    Define: [MetricsRequest, DefineMetricsResult];
    Collect: [MetricsRequest, CollectMetricsResult];
  };
  Postgres: {
    GetCapabilities: [Empty, PostgresCapabilitiesResult];
    EnrichConfiguration: [EnrichConfigurationRequest, EnrichConfigurationResult];
  };
  Health: {
    Check: [HealthCheckRequest, HealthCheckResponse];
  };
}

export type ServiceName = keyof CnpgiMethods;
export type MethodName<S extends ServiceName> = keyof CnpgiMethods[S] & string;
export type RequestOf<S extends ServiceName, M extends MethodName<S>> = CnpgiMethods[S][M] extends [infer Q, unknown] ? Q : never;
export type ResponseOf<S extends ServiceName, M extends MethodName<S>> = CnpgiMethods[S][M] extends [unknown, infer R] ? R : never;
