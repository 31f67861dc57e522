/**
 * The Azure SDK is loaded only by the Azure driver (the registry imports it dynamically), and
 * @azure/identity only when an Entra ID credential is built: an S3 archive_command never pays for them.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../..');
const SRC = path.join(ROOT, 'src');
const DRIVER = path.join(SRC, 'storage', 'drivers', 'azure-blob');

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}
/** Runtime (not type-only) static imports of a module prefix. */
function staticImports(file: string, prefix: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*import\s+(?!type\b)[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1] as string).filter((s) => s.startsWith(prefix));
}

it('only src/storage/drivers/azure-blob imports @azure/*', () => {
  for (const f of tsFiles(SRC)) {
    if (f.startsWith(DRIVER + path.sep)) continue;
    assert.ok(!/['"]@azure\//.test(fs.readFileSync(f, 'utf8')), `${path.relative(ROOT, f)} mentions an @azure package`);
  }
});

it('@azure/identity is never imported statically, even inside the driver', () => {
  for (const f of tsFiles(DRIVER)) assert.deepEqual(staticImports(f, '@azure/identity'), [], path.relative(ROOT, f));
});

it('the registry loads the Azure driver with a dynamic import', () => {
  const registry = fs.readFileSync(path.join(SRC, 'storage', 'registry.ts'), 'utf8');
  assert.match(registry, /import\('\.\/drivers\/azure-blob\/index\.js'\)/);
  assert.doesNotMatch(registry, /^import .*azure-blob/m);
});
