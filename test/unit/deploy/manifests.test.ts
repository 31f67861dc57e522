/**
 * The install manifests: every YAML parses; `kubectl apply -k deploy/` and `helm template` (rendered with the
 * libraries those tools use, test/manifest-render) give the same objects; the discovery Service, the
 * certificates and the Deployment agree with each other and with what CNPG dials (cnpg-i.md §2.2); every
 * PromQL expression parses (Prometheus' own grammar).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parser as promql } from '@prometheus-io/lezer-promql';
import { requireInstalled } from '../../harness/test-env.js';
import { hasTool, render, repo, type Json } from './go-tools.js';

const TOOL = 'manifest-render (scripts/build-go-tools.sh)';

function yamlFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'templates' ? [] : yamlFiles(p); // Helm templates are Go templates
    return /\.ya?ml$/.test(e.name) ? [p] : [];
  });
}

test('every YAML file under deploy/ parses (Helm templates are checked by rendering them)', () => {
  const files = yamlFiles(path.join(repo, 'deploy'));
  assert.ok(files.length >= 10);
  for (const f of files) {
    const docs = parseAllDocuments(fs.readFileSync(f, 'utf8'));
    for (const d of docs) assert.deepEqual(d.errors, [], f);
  }
  JSON.parse(fs.readFileSync(path.join(repo, 'deploy/monitoring/pgstow-dashboard.json'), 'utf8'));
  assert.equal(fs.readFileSync(path.join(repo, 'deploy/helm/pgstow/pgstow-dashboard.json'), 'utf8'), fs.readFileSync(path.join(repo, 'deploy/monitoring/pgstow-dashboard.json'), 'utf8'));
});

const byKind = (objects: Json[], kind: string, name?: string): Json => {
  const o = objects.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  assert.ok(o, `${kind} ${name ?? ''} rendered`);
  return o;
};

test('kustomize: discovery Service, certificates, Deployment and SIDECAR_IMAGE agree with what CNPG dials', (t) => {
  if (!requireInstalled(t, TOOL, hasTool('manifest-render'))) return;
  const objects = render('kustomize', 'deploy');
  for (const o of objects.filter((x) => !['CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding'].includes(x.kind))) assert.equal(o.metadata.namespace, 'cnpg-system', `${o.kind} ${o.metadata.name}`);
  const service = byKind(objects, 'Service');
  const deployment = byKind(objects, 'Deployment');
  const server = byKind(objects, 'Certificate', 'barman-cloud-server');
  const client = byKind(objects, 'Certificate', 'barman-cloud-client');
  assert.equal(service.metadata.labels['cnpg.io/pluginName'], 'barman-cloud.cloudnative-pg.io');
  const port = Number(service.metadata.annotations['cnpg.io/pluginPort']);
  assert.equal(service.spec.ports[0].port, port);
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  assert.ok(container.args.includes(`--server-address=:${service.spec.ports[0].targetPort}`));
  assert.equal(container.ports[0].containerPort, service.spec.ports[0].targetPort);
  assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
  // CNPG trusts the server Secret's tls.crt and verifies the server name = the Service name.
  assert.equal(service.metadata.annotations['cnpg.io/pluginServerSecret'], server.spec.secretName);
  assert.ok(server.spec.dnsNames.includes(service.metadata.name));
  assert.deepEqual(server.spec.usages, ['server auth']);
  assert.equal(service.metadata.annotations['cnpg.io/pluginClientSecret'], client.spec.secretName);
  assert.deepEqual(client.spec.usages, ['client auth']);
  const volume = (mountPath: string): string => {
    const mount = container.volumeMounts.find((m: Json) => m.mountPath === mountPath);
    return pod.volumes.find((v: Json) => v.name === mount.name).secret.secretName;
  };
  assert.equal(volume('/server'), server.spec.secretName);
  assert.equal(volume('/client'), client.spec.secretName);
  assert.ok(container.args.includes('--server-cert=/server/tls.crt') && container.args.includes('--server-key=/server/tls.key') && container.args.includes('--client-cert=/client/tls.crt'));
  // SIDECAR_IMAGE comes from the generated Secret (name with its content hash).
  const ref = container.env.find((e: Json) => e.name === 'SIDECAR_IMAGE').valueFrom.secretKeyRef;
  const secret = byKind(objects, 'Secret', ref.name);
  assert.equal(Buffer.from(secret.data.SIDECAR_IMAGE, 'base64').toString(), container.image);
  // Non-root UID 26, read-only root filesystem, a writable TMPDIR.
  assert.equal(pod.securityContext.runAsUser, 26);
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.equal(container.env.find((e: Json) => e.name === 'TMPDIR').value, '/tmp');
  assert.ok(container.volumeMounts.some((m: Json) => m.mountPath === '/tmp' && pod.volumes.find((v: Json) => v.name === m.name).emptyDir));
  assert.equal(pod.serviceAccountName, byKind(objects, 'ServiceAccount').metadata.name);
});

/** What a chart and the kustomization may differ in: labels, the generated Secret's name and encoding. */
function normalise(objects: Json[]): Json[] {
  return objects.map((o) => {
    const c = structuredClone(o);
    delete c.metadata.labels;
    delete c.metadata.namespace;
    if (c.kind === 'Secret') {
      c.metadata.name = 'plugin-barman-cloud';
      c.stringData = Object.fromEntries(Object.entries(c.data ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64').toString()]).concat(Object.entries(c.stringData ?? {})));
      delete c.data;
      c.type = 'Opaque';
    }
    if (c.kind === 'Deployment') {
      delete c.spec.template.metadata.labels;
      delete c.spec.template.metadata.annotations;
      const container = c.spec.template.spec.containers[0];
      delete container.imagePullPolicy;
      container.env.find((e: Json) => e.name === 'SIDECAR_IMAGE').valueFrom.secretKeyRef.name = 'plugin-barman-cloud';
    }
    if (c.kind === 'Service') c.metadata.labels = { 'cnpg.io/pluginName': o.metadata.labels['cnpg.io/pluginName'] };
    return c;
  }).sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));
}

test('helm template with the default values renders the objects of the kustomization', (t) => {
  if (!requireInstalled(t, TOOL, hasTool('manifest-render'))) return;
  const helm = render('helm', 'deploy/helm/pgstow', ['--namespace', 'cnpg-system']);
  const kustomize = render('kustomize', 'deploy');
  assert.deepEqual(normalise(helm), normalise(kustomize));
});

test('helm knobs: image, sidecar image, log level, leader election, port, own TLS Secrets, monitoring', (t) => {
  if (!requireInstalled(t, TOOL, hasTool('manifest-render'))) return;
  const objects = render('helm', 'deploy/helm/pgstow', ['--namespace', 'db-ops',
    '--set', 'image.repository=registry.example/pgstow,image.tag=9.9.9,sidecarImage=registry.example/pgstow-sidecar:1',
    '--set', 'logLevel=debug,leaderElect=false,port=9443,certificates.create=false,certificates.serverSecretName=my-server,certificates.clientSecretName=my-client',
    '--set', 'monitoring.prometheusRule.enabled=true,monitoring.grafanaDashboard.enabled=true,monitoring.prometheusRule.lastBackupMaxAgeSeconds=7200']);
  const deployment = byKind(objects, 'Deployment');
  const container = deployment.spec.template.spec.containers[0];
  assert.equal(container.image, 'registry.example/pgstow:9.9.9');
  assert.deepEqual(container.args, ['plugin', 'operator', '--server-cert=/server/tls.crt', '--server-key=/server/tls.key', '--client-cert=/client/tls.crt', '--server-address=:9443', '--log-level=debug']);
  assert.equal(byKind(objects, 'Secret').stringData.SIDECAR_IMAGE, 'registry.example/pgstow-sidecar:1');
  const service = byKind(objects, 'Service');
  assert.equal(service.metadata.annotations['cnpg.io/pluginPort'], '9443');
  assert.equal(service.metadata.annotations['cnpg.io/pluginServerSecret'], 'my-server');
  assert.ok(!objects.some((o) => o.kind === 'Certificate' || o.kind === 'Issuer'));
  assert.equal(byKind(objects, 'ClusterRoleBinding').subjects[0].namespace, 'db-ops');
  const rule = byKind(objects, 'PrometheusRule');
  const reference = parseAllDocuments(fs.readFileSync(path.join(repo, 'deploy/monitoring/prometheusrule.yaml'), 'utf8'))[0]?.toJS() as Json;
  const names = (r: Json): string[] => r.spec.groups[0].rules.map((x: Json) => x.alert);
  assert.deepEqual(names(rule), names(reference));
  assert.match(rule.spec.groups[0].rules[2].expr, /> 7200\)/);
  const dashboard = byKind(objects, 'ConfigMap', 'pgstow-grafana-dashboard');
  assert.deepEqual(JSON.parse(dashboard.data['pgstow-dashboard.json']), JSON.parse(fs.readFileSync(path.join(repo, 'deploy/monitoring/pgstow-dashboard.json'), 'utf8')));
});

test('helm with default thresholds renders the PrometheusRule of deploy/monitoring', (t) => {
  if (!requireInstalled(t, TOOL, hasTool('manifest-render'))) return;
  const rule = byKind(render('helm', 'deploy/helm/pgstow', ['--set', 'monitoring.prometheusRule.enabled=true']), 'PrometheusRule');
  const reference = byKind(render('kustomize', 'deploy/monitoring'), 'PrometheusRule');
  const exprs = (r: Json): string[] => r.spec.groups[0].rules.map((x: Json) => `${x.alert} ${x.expr.trim()} ${x.for} ${x.labels.severity}`);
  assert.deepEqual(exprs(rule), exprs(reference));
});

function promqlErrors(expr: string): string[] {
  const errors: string[] = [];
  promql.parse(expr).iterate({ enter: (n) => { if (n.type.isError) errors.push(`error at ${n.from}: ${expr.slice(Math.max(0, n.from - 20), n.from + 20)}`); } });
  return errors;
}

test('every alert and dashboard expression is valid PromQL; the alerts cover the four failure modes', () => {
  assert.ok(promqlErrors('rate(x[5m]) >').length > 0, 'the check sees a broken expression');
  const rules = (parseAllDocuments(fs.readFileSync(path.join(repo, 'deploy/monitoring/prometheusrule.yaml'), 'utf8'))[0]?.toJS() as Json).spec.groups[0].rules as Json[];
  assert.deepEqual(rules.map((r) => r.alert), ['PgstowWALArchivingFailing', 'PgstowWALArchiveBacklogGrowing', 'PgstowLastBackupTooOld', 'PgstowRecoveryWindowShorterThanRetention']);
  for (const r of rules) assert.deepEqual(promqlErrors(r.expr), [], r.alert);
  const dashboard = JSON.parse(fs.readFileSync(path.join(repo, 'deploy/monitoring/pgstow-dashboard.json'), 'utf8')) as Json;
  const targets = (dashboard.panels as Json[]).flatMap((p) => p.targets as Json[]);
  assert.ok(targets.length >= 8);
  for (const target of targets) {
    const expr = String(target.expr).replaceAll('$namespace', 'ns').replaceAll('$cluster', 'pg');
    assert.deepEqual(promqlErrors(expr), [], expr);
  }
});
