/** Errors of the plugin layer, in the project's one hierarchy (src/errors.ts). */
import { ConfigError, ExitCode, PgstowError } from '../errors.js';

/**
 * The Cluster, ObjectStore or request does not say what the plugin needs (missing barmanObjectName, unknown
 * ObjectStore, Secret or key, undecodable cluster_definition). The text names it: CloudNativePG shows it
 * in the Cluster's conditions or the Backup's status.
 */
export class PluginConfigError extends ConfigError {
  constructor(message: string, path?: string) {
    super(message, path);
  }
}
PluginConfigError.prototype.name = 'PluginConfigError';

/** The process is stopping and takes no new work. */
export class ShuttingDownError extends PgstowError {
  constructor(what: string) {
    super('ERR_SHUTTING_DOWN', ExitCode.GENERAL, `${what}: the plugin is shutting down; PostgreSQL will retry`);
  }
}
ShuttingDownError.prototype.name = 'ShuttingDownError';
