/**
 * One test's world for the plugin: the loopback Kubernetes API serving an ObjectStore and its Secret for a real
 * S3 server (s3rver or moto, started by the test runner), a plugins dir, a spool, Cluster JSON files the
 * WAL client reads, and the sidecar environment CNPG injects.
 */
import type { TestContext } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startFakeKubernetesApi, type FakeKubernetesApi } from '../harness/fake-kubernetes-api.js';
import { requireServer, type S3ServerInfo } from '../harness/test-env.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { chownToPostgres, makeTempDir, removeDir } from '../harness/tmp.js';
import { OBJECT_STORE_GROUP } from '../../src/plugin/kube/kube-api.js';
import { clusterObject, type ClusterFixtureOptions } from './cnpg-fixtures.js';

export const NAMESPACE = 'default';
export const CLUSTER = 'cluster-example';
export const SECRET = 'minio-creds';

export interface PluginEnv {
  dir: string;
  api: FakeKubernetesApi;
  s3: S3ServerInfo;
  /** s3://bucket/prefix of the default ObjectStore. */
  destination: string;
  pluginPath: string;
  spool: string;
  /** Puts (or replaces) an ObjectStore pointing at a fresh prefix (or `destination`); returns its destinationPath. */
  putObjectStore(name: string, configuration?: Record<string, unknown>, spec?: Record<string, unknown>): string;
  /** Writes Cluster JSON readable by the postgres user; returns the file. */
  clusterFile(name: string, options: ClusterFixtureOptions): string;
  /** The sidecar environment for a pod. */
  sidecarEnv(extra?: Record<string, string>): Record<string, string>;
  /** Environment for barman-cloud-* and pgstow drop-ins against the same S3 server. */
  awsEnv(): Record<string, string>;
  close(): Promise<void>;
}

export async function pluginEnv(t: TestContext, label: string, kind: 'moto' | 's3rver' = 's3rver'): Promise<PluginEnv | undefined> {
  const s3 = requireServer(t, kind);
  if (!s3) return undefined;
  const dir = makeTempDir(`plugin-${label}`);
  const api = await startFakeKubernetesApi(path.join(dir, 'kube'));
  api.setSecret(NAMESPACE, SECRET, { ACCESS_KEY_ID: s3.accessKeyId, ACCESS_SECRET_KEY: s3.secretAccessKey, REGION: s3.region });
  const pluginPath = path.join(dir, 'plugins');
  const spool = path.join(dir, 'spool');
  fs.mkdirSync(pluginPath, { recursive: true });
  fs.mkdirSync(spool, { recursive: true });
  const destination = `s3://${TEST_BUCKET}/${uniquePrefix(label)}`;
  const env: PluginEnv = {
    dir, api, s3, destination, pluginPath, spool,
    putObjectStore(name, configuration = {}, spec = {}) {
      const destinationPath = (configuration.destinationPath as string | undefined) ?? destination;
      api.putObject(OBJECT_STORE_GROUP, 'objectstores', {
        apiVersion: 'barmancloud.cnpg.io/v1', kind: 'ObjectStore', metadata: { name, namespace: NAMESPACE },
        spec: {
          configuration: {
            destinationPath, endpointURL: s3.endpoint,
            s3Credentials: { accessKeyId: { name: SECRET, key: 'ACCESS_KEY_ID' }, secretAccessKey: { name: SECRET, key: 'ACCESS_SECRET_KEY' }, region: { name: SECRET, key: 'REGION' } },
            ...configuration,
          },
          ...spec,
        },
      });
      return destinationPath;
    },
    clusterFile(name, options) {
      const file = path.join(dir, `${name}.json`);
      fs.writeFileSync(file, JSON.stringify(clusterObject({ name: CLUSTER, ...options })));
      chownToPostgres(file);
      return file;
    },
    sidecarEnv(extra = {}) {
      return {
        KUBECONFIG: api.kubeconfig, NAMESPACE, CLUSTER_NAME: CLUSTER, POD_NAME: `${CLUSTER}-1`, SPOOL_DIRECTORY: spool,
        PGSTOW_STATUS_INTERVAL_SECONDS: '1', TMPDIR: dir, ...extra,
      };
    },
    awsEnv() {
      return { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_DEFAULT_REGION: s3.region };
    },
    async close() {
      await api.close();
      removeDir(dir);
    },
  };
  // The sidecar runs as the postgres user: it must read the kubeconfig and its CA, and write the spool.
  chownToPostgres(dir);
  return env;
}
