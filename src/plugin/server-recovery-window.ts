/**
 * One server's entry of `ObjectStore.status.serverRecoveryWindow`: upstream plugin-barman-cloud's three fields
 * plus pgstow's (CONTRACTS.md "ObjectStore status"). The instance sidecar writes it; the operator reads it into
 * the Cluster's plugin status. RFC 3339 strings for times.
 */
export interface ServerRecoveryWindow {
  firstRecoverabilityPoint?: string;
  lastSuccessfulBackupTime?: string;
  lastFailedBackupTime?: string;
  lastArchivedWAL?: string;
  lastArchivedWALTime?: string;
  lastArchiveFailureTime?: string;
  lastArchiveFailure?: string;
  lastSuccessfulBackupName?: string;
  lastBackupDurationSeconds?: number;
  lastBackupSizeBytes?: number;
}
