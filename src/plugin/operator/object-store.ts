/**
 * The parts of a barmancloud.cnpg.io/v1 ObjectStore the operator side reads: the credential methods and the
 * endpoint CA (for RBAC, CA projection and workload identity), and spec.instanceSidecarConfiguration (env,
 * resources, arguments, log level). Read leniently: the CRD has already validated the object.
 */
export interface SecretKeyRef { name: string; key: string }

export interface ResourceRequirements {
  requests?: Record<string, string | number>;
  limits?: Record<string, string | number>;
  claims?: Array<{ name: string; request?: string }>;
}

export interface EnvVar { name: string; value?: string; valueFrom?: Record<string, unknown> }

export interface ObjectStoreView {
  name: string;
  /**
   * The credential Secrets the sidecar reads through the API for this store, sorted, distinct. Not the endpoint
   * CA: that Secret reaches the sidecar as a projected volume, read by the kubelet, not the ServiceAccount.
   */
  credentialSecrets: string[];
  endpointCA?: SecretKeyRef;
  s3InheritFromIAMRole: boolean;
  azureWorkloadIdentity: boolean;
  gkeEnvironment: boolean;
  env: EnvVar[];
  resources?: ResourceRequirements;
  additionalContainerArgs: string[];
  logLevel: string;
  annotations: Record<string, string>;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Json : {});

function secretRef(v: unknown): SecretKeyRef | undefined {
  const o = obj(v);
  return typeof o.name === 'string' && o.name && typeof o.key === 'string' ? { name: o.name, key: o.key } : undefined;
}

const S3_SECRET_FIELDS = ['accessKeyId', 'secretAccessKey', 'region', 'sessionToken'];
const AZURE_SECRET_FIELDS = ['connectionString', 'storageAccount', 'storageKey', 'storageSasToken'];
const GOOGLE_SECRET_FIELDS = ['applicationCredentials'];

function credentialSecrets(configuration: Json): string[] {
  const names: string[] = [];
  const collect = (block: unknown, fields: string[]): void => {
    for (const f of fields) {
      const ref = secretRef(obj(block)[f]);
      if (ref) names.push(ref.name);
    }
  };
  collect(configuration.s3Credentials, S3_SECRET_FIELDS);
  const azure = obj(configuration.azureCredentials);
  // With a managed or default Azure identity no Azure Secret is read (the account is in destinationPath).
  if (azure.inheritFromAzureAD !== true && azure.useDefaultAzureCredentials !== true) collect(azure, AZURE_SECRET_FIELDS);
  collect(configuration.googleCredentials, GOOGLE_SECRET_FIELDS);
  return [...new Set(names)].sort();
}

export function viewObjectStore(store: Json): ObjectStoreView {
  const metadata = obj(store.metadata);
  const spec = obj(store.spec);
  const configuration = obj(spec.configuration);
  const sidecar = obj(spec.instanceSidecarConfiguration);
  const azure = obj(configuration.azureCredentials);
  const resources = obj(sidecar.resources);
  const hasResources = Object.keys(obj(resources.requests)).length > 0 || Object.keys(obj(resources.limits)).length > 0;
  const view: ObjectStoreView = {
    name: typeof metadata.name === 'string' ? metadata.name : '',
    credentialSecrets: credentialSecrets(configuration),
    s3InheritFromIAMRole: obj(configuration.s3Credentials).inheritFromIAMRole === true,
    azureWorkloadIdentity: azure.inheritFromAzureAD === true || azure.useDefaultAzureCredentials === true,
    gkeEnvironment: obj(configuration.googleCredentials).gkeEnvironment === true,
    env: Array.isArray(sidecar.env) ? (sidecar.env as EnvVar[]).filter((e) => typeof obj(e).name === 'string') : [],
    additionalContainerArgs: Array.isArray(sidecar.additionalContainerArgs) ? sidecar.additionalContainerArgs.filter((a): a is string => typeof a === 'string') : [],
    logLevel: typeof sidecar.logLevel === 'string' && sidecar.logLevel ? sidecar.logLevel : 'info',
    annotations: Object.fromEntries(Object.entries(obj(metadata.annotations)).filter((e): e is [string, string] => typeof e[1] === 'string')),
  };
  const ca = secretRef(configuration.endpointCA);
  if (ca) view.endpointCA = ca;
  if (hasResources) view.resources = resources as ResourceRequirements;
  return view;
}
