/**
 * The layer table of CONTRIBUTING.md, checked: every import in src/ (static and dynamic) goes where its
 * folder may import, and only a driver imports its provider's SDK. Adding a folder means adding a row here and
 * in CONTRIBUTING.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../harness/postgres.js';

const SRC = path.join(REPO_ROOT, 'src');

/** Top-level modules of src/ that any layer may use (they import nothing but each other). */
const BASE = ['errors', 'logger', 'secret', 'concurrency', 'version', 'memory-budget', 'gc-pacer'];

/** Folder (or top-level module) → what it may import besides itself and BASE. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  base: [],
  domain: [],
  storage: [],
  pipeline: ['domain'],
  postgres: ['domain'],
  repository: ['domain', 'storage'],
  services: ['domain', 'repository', 'storage', 'pipeline', 'postgres'],
  config: ['domain', 'storage', 'engine/settings'],
  app: ['storage', 'engine/settings'],
  engine: ['app', 'services', 'repository', 'storage', 'domain', 'pipeline', 'postgres'],
  demo: ['engine', 'services', 'domain'],
  cli: ['config', 'engine', 'app', 'services', 'repository', 'storage', 'domain', 'pipeline', 'postgres', 'demo', 'plugin'],
  plugin: ['engine', 'config', 'domain', 'storage/errors', 'cli/args', 'cli/command', 'cli/redact'],
};

/** Only the driver of a provider imports its SDK. */
const SDKS: Record<string, string> = {
  '@aws-sdk/': 'storage/drivers/s3', '@smithy/': 'storage/drivers/s3', '@azure/': 'storage/drivers/azure-blob',
  '@google-cloud/': 'storage/drivers/gcs', 'google-auth-library': 'storage/drivers/gcs',
};

function layerOf(rel: string): string {
  const noExt = rel.replace(/\.(ts|js)$/, '');
  if (!noExt.includes('/')) return BASE.includes(noExt) ? 'base' : noExt;
  return noExt.split('/')[0] as string;
}

function allowed(from: string, toRel: string): boolean {
  const layer = layerOf(from);
  const target = toRel.replace(/\.(ts|js)$/, '');
  const targetLayer = layerOf(toRel);
  if (targetLayer === 'base' || targetLayer === layer) return true;
  return (MAY_IMPORT[layer] ?? []).some((a) => target === a || target.startsWith(`${a}/`) || (!a.includes('/') && targetLayer === a));
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) { if (e.name !== 'vendor') out.push(...sources(p)); } else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

function imports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"`;]*?from\s+'([^']+)'/g)) specs.push(m[1] as string);
  for (const m of text.matchAll(/import\(\s*'([^']+)'\s*\)/g)) specs.push(m[1] as string);
  for (const m of text.matchAll(/requireSdk\(\s*'([^']+)'\s*\)/g)) specs.push(m[1] as string);
  return specs;
}

test('every import in src/ follows the layer table; only drivers import their SDK', () => {
  const violations: string[] = [];
  const layers = new Set<string>();
  for (const file of sources(SRC)) {
    const rel = path.relative(SRC, file);
    layers.add(layerOf(rel));
    for (const spec of imports(file)) {
      if (spec.startsWith('.')) {
        const target = path.relative(SRC, path.resolve(path.dirname(file), spec));
        if (target.startsWith('..')) { violations.push(`${rel} imports ${spec} outside src/`); continue; }
        if (target.startsWith('vendor/')) continue;
        if (!allowed(rel, target)) violations.push(`${rel} (${layerOf(rel)}) imports ${target} (${layerOf(target)})`);
        continue;
      }
      const sdk = Object.keys(SDKS).find((p) => spec.startsWith(p));
      if (sdk && !rel.startsWith(`${SDKS[sdk]}/`)) violations.push(`${rel} imports the SDK ${spec}`);
    }
  }
  assert.deepEqual(violations, []);
  assert.deepEqual([...layers].filter((l) => !(l in MAY_IMPORT)), [], 'every folder of src/ has a row');
});

test('the rules the layer table exists for', () => {
  // config/ does not import cli/; services do not import the composition root; the demo is not a service.
  assert.equal(allowed('config/settings-from-cli.ts', 'cli/common-options.ts'), false);
  assert.equal(allowed('services/restore-wal.ts', 'app/compose.ts'), false);
  assert.equal(allowed('services/restore-wal.ts', 'engine/open-engine.ts'), false);
  assert.ok(!fs.existsSync(path.join(SRC, 'services', 'demo.ts')));
  assert.equal(allowed('storage/registry.ts', 'domain/wal/wal-file-name.ts'), false, 'drivers know nothing of PostgreSQL');
});
