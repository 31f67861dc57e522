/**
 * For the credential methods that take no secret (IRSA / Pod Identity, GKE Workload Identity, Azure managed
 * or workload identity), what the pod needs and whether this process has it. Only looks at the environment
 * and files: it never calls a metadata server.
 */
import * as fs from 'node:fs';
import type { CredentialMethod } from './resolved-config.js';

export interface Requirement {
  what: string;
  /** true = present, false = missing, undefined = cannot be checked from here. */
  present: boolean | undefined;
  detail?: string;
}

export interface WorkloadIdentityReport {
  method: CredentialMethod;
  /** The ServiceAccount annotation the pod's ServiceAccount needs (spec.serviceAccountTemplate.metadata.annotations). */
  serviceAccountAnnotation?: { name: string; inManifest: boolean; value?: string };
  /** Alternatives: any one satisfied is enough. */
  environments: Array<{ name: string; requirements: Requirement[]; satisfied: boolean }>;
  /** One-line verdict. */
  summary: string;
}

type Env = Readonly<Record<string, string | undefined>>;

function envVar(env: Env, name: string): Requirement {
  return { what: `environment ${name}`, present: Boolean(env[name]) };
}

/** Whether each file named by an environment variable exists, looked up once, asynchronously. */
async function fileChecks(env: Env, names: readonly string[]): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>();
  for (const name of names) {
    const f = env[name];
    if (f) out.set(name, await fs.promises.access(f).then(() => true, () => false));
  }
  return out;
}

const FILE_VARIABLES = ['AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', 'GOOGLE_APPLICATION_CREDENTIALS', 'AZURE_FEDERATED_TOKEN_FILE'];

function alt(name: string, requirements: Requirement[]): { name: string; requirements: Requirement[]; satisfied: boolean } {
  return { name, requirements, satisfied: requirements.every((r) => r.present === true) };
}

export async function workloadIdentityReport(method: CredentialMethod, annotations: Readonly<Record<string, string>>, env: Env): Promise<WorkloadIdentityReport | undefined> {
  const files = await fileChecks(env, FILE_VARIABLES);
  const fileFromEnv = (e: Env, name: string): Requirement => {
    const f = e[name];
    if (!f) return { what: `environment ${name}`, present: false };
    const ok = files.get(name) === true;
    return { what: `environment ${name}`, present: ok, detail: ok ? `file ${f} exists` : `file ${f} does not exist` };
  };
  const annotation = (name: string): WorkloadIdentityReport['serviceAccountAnnotation'] => {
    const a: NonNullable<WorkloadIdentityReport['serviceAccountAnnotation']> = { name, inManifest: annotations[name] !== undefined };
    if (annotations[name] !== undefined) a.value = annotations[name];
    return a;
  };
  let report: WorkloadIdentityReport;
  switch (method) {
    case 's3-iam-role':
      report = {
        method,
        serviceAccountAnnotation: annotation('eks.amazonaws.com/role-arn'),
        environments: [
          alt('IRSA (EKS IAM roles for service accounts, injected by the EKS pod identity webhook)', [envVar(env, 'AWS_ROLE_ARN'), fileFromEnv(env, 'AWS_WEB_IDENTITY_TOKEN_FILE')]),
          alt('EKS Pod Identity', [envVar(env, 'AWS_CONTAINER_CREDENTIALS_FULL_URI'), fileFromEnv(env, 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE')]),
          alt('static keys in the environment (outside Kubernetes)', [envVar(env, 'AWS_ACCESS_KEY_ID'), envVar(env, 'AWS_SECRET_ACCESS_KEY')]),
          alt('EC2 instance profile (instance metadata service; not checked)', [{ what: 'instance metadata at 169.254.169.254', present: undefined }]),
        ],
        summary: '',
      };
      break;
    case 'gke-workload-identity':
      report = {
        method,
        serviceAccountAnnotation: annotation('iam.gke.io/gcp-service-account'),
        environments: [
          alt('GKE Workload Identity (metadata server; not checked)', [{ what: 'GKE metadata server at metadata.google.internal', present: undefined }]),
          alt('Application Default Credentials file (outside GKE)', [fileFromEnv(env, 'GOOGLE_APPLICATION_CREDENTIALS')]),
        ],
        summary: '',
      };
      break;
    case 'azure-ad-managed-identity':
    case 'azure-default-credential': {
      const envs = [
        alt('Azure AD workload identity (pod label azure.workload.identity/use: "true"; variables injected by the webhook)', [envVar(env, 'AZURE_CLIENT_ID'), envVar(env, 'AZURE_TENANT_ID'), fileFromEnv(env, 'AZURE_FEDERATED_TOKEN_FILE')]),
        alt('managed identity endpoint (App Service / Arc / AKS pod identity)', [envVar(env, 'IDENTITY_ENDPOINT')]),
        alt('VM / node managed identity (instance metadata service; not checked)', [{ what: 'instance metadata at 169.254.169.254', present: undefined }]),
      ];
      if (method === 'azure-default-credential') {
        envs.unshift(alt('service principal in the environment (EnvironmentCredential)', [envVar(env, 'AZURE_CLIENT_ID'), envVar(env, 'AZURE_TENANT_ID'), { what: 'environment AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH', present: Boolean(env.AZURE_CLIENT_SECRET || env.AZURE_CLIENT_CERTIFICATE_PATH) }]));
        envs.push(alt('Azure CLI login (az login; not checked)', [{ what: 'az CLI token cache', present: undefined }]));
      }
      report = { method, serviceAccountAnnotation: annotation('azure.workload.identity/client-id'), environments: envs, summary: '' };
      break;
    }
    default:
      return undefined;
  }
  const ok = report.environments.find((e) => e.satisfied);
  const sa = report.serviceAccountAnnotation;
  const saText = sa ? (sa.inManifest ? `the manifest sets ServiceAccount annotation ${sa.name}` : `the manifest does not set ServiceAccount annotation ${sa.name} (spec.serviceAccountTemplate.metadata.annotations)`) : '';
  report.summary = ok
    ? `this environment provides credentials through: ${ok.name}; ${saText}`
    : `no credential source found in this environment (see the alternatives below); ${saText}`;
  return report;
}
