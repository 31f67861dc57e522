/**
 * The metric names deploy/ relies on: every barman_cloud_cloudnative_pg_io_* name in the PrometheusRule, the
 * Grafana dashboard and the Helm chart is one the plugin defines (CNPG exports only defined names, so an alert
 * on another name would never fire); and the retention gauge's value for each policy spelling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { metricDefinitions, metricPrefix, retentionSeconds } from '../../../src/plugin/instance/metrics-service.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const PLUGIN = 'barman-cloud.cloudnative-pg.io';

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p) : [p];
  });
}

test('every plugin metric name under deploy/ (alerts, dashboards, Helm chart) is defined by the plugin', () => {
  const prefix = metricPrefix(PLUGIN);
  const defined = new Set(metricDefinitions(PLUGIN).map((d) => d.name));
  const used = new Map<string, string>();
  for (const f of files(path.join(repo, 'deploy')).filter((f) => /\.(ya?ml|json|tpl)$/.test(f))) {
    for (const m of fs.readFileSync(f, 'utf8').matchAll(new RegExp(`${prefix}_[a-z0-9_]+`, 'g'))) used.set(m[0], path.relative(repo, f));
  }
  assert.ok(used.has(`${prefix}_retention_policy_seconds`) && used.size >= 8, `deploy/ uses ${[...used.keys()].join(', ')}`);
  const undefinedNames = [...used].filter(([name]) => !defined.has(name)).map(([name, file]) => `${name} (${file})`);
  assert.deepEqual(undefinedNames, []);
});

test('retention_policy_seconds: recovery windows in seconds (a month is 31 days, as Barman), 0 for none or REDUNDANCY', () => {
  assert.equal(retentionSeconds('30d'), 30 * 86_400);
  assert.equal(retentionSeconds('4w'), 28 * 86_400);
  assert.equal(retentionSeconds('1m'), 31 * 86_400);
  assert.equal(retentionSeconds('RECOVERY WINDOW OF 7 DAYS'), 7 * 86_400);
  assert.equal(retentionSeconds('REDUNDANCY 3'), 0);
  assert.equal(retentionSeconds(undefined), 0);
  assert.equal(retentionSeconds(''), 0);
  assert.equal(retentionSeconds('thirty days'), 0, 'a bad policy reads 0: a scrape never fails');
});
