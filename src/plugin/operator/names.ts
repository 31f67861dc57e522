/**
 * Names the operator side shares with CloudNativePG, plugin-barman-cloud's manifests and the instance sidecar.
 * Keeping them equal to plugin-barman-cloud's is what makes pgstow a drop-in (cnpg-i.md §5.1, §8.2).
 */
export { DEFAULT_PLUGIN_NAME as PLUGIN_NAME } from '../plugin-config.js';
export { OBJECT_STORE_GROUP, OBJECT_STORE_PLURAL, OBJECT_STORE_VERSION } from '../kube/kube-api.js';

/** The injected container's name (CNPG and users' tooling look for it). */
export const SIDECAR_CONTAINER_NAME = 'plugin-barman-cloud';
/** Where the image puts the one binary; the image's entrypoint is the same file. */
export const SIDECAR_BINARY = '/usr/local/bin/pgstow';
export const PLUGINS_VOLUME = 'plugins';
export const PLUGINS_MOUNT_PATH = '/plugins';
export const CERTIFICATES_VOLUME = 'barman-certificates';
export const CERTIFICATES_MOUNT_PATH = '/barman-certificates';
/** Per ObjectStore with an endpointCA: <mount>/<objectStoreName>/<this>. */
export const CERTIFICATE_FILE_NAME = 'barman-ca.crt';
export const SPOOL_DIRECTORY = '/controller/wal-restore-spool';

/** Role and RoleBinding created per Cluster (spec §4.5). */
export const rbacNameFor = (clusterName: string): string => `${clusterName}-barman-cloud`;
