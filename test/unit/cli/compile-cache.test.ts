import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileCacheDir } from '../../../src/cli/compile-cache.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const moduleUrl = new URL('../../../src/cli/compile-cache.js', import.meta.url).href;
const pgstowBin = path.join(here, '..', '..', '..', 'src', 'cli', 'bin', 'pgstow.js');

/** Runs enableCompileCache() in a fresh process (it changes how that process compiles code) and returns the directory Node uses. */
function enabledDir(env: Record<string, string>): string {
  const script = `const m = await import(${JSON.stringify(moduleUrl)}); m.enableCompileCache(); const nm = await import('node:module'); console.log(nm.getCompileCacheDir?.() ?? 'off');`;
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NODE_COMPILE_CACHE') && k !== 'NODE_DISABLE_COMPILE_CACHE' && k !== 'XDG_CACHE_HOME'));
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...clean, ...env }, encoding: 'utf8' }).trim();
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pgstow-cc-'));
}

test('the compile cache lives in the user\'s own directory: $XDG_CACHE_HOME/pgstow/compile-cache, else <tmpdir>/pgstow-compile-cache-<uid>', () => {
  assert.equal(compileCacheDir({ XDG_CACHE_HOME: '/home/u/.cache' }), '/home/u/.cache/pgstow/compile-cache');
  assert.equal(compileCacheDir({}), path.join(os.tmpdir(), `pgstow-compile-cache-${process.getuid?.() ?? 'user'}`));
  assert.equal(compileCacheDir({ XDG_CACHE_HOME: 'relative' }), path.join(os.tmpdir(), `pgstow-compile-cache-${process.getuid?.() ?? 'user'}`));
});

test('enableCompileCache creates the directory private (0700) and Node uses it', () => {
  const base = tmp();
  try {
    const dir = path.join(base, 'pgstow', 'compile-cache');
    assert.equal(path.dirname(enabledDir({ XDG_CACHE_HOME: base })), dir); // Node adds a subdirectory per version
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test('a cache directory others may write to is not used, an unwritable one never fails the program, NODE_DISABLE_COMPILE_CACHE turns it off', () => {
  const base = tmp();
  try {
    const shared = path.join(base, 'pgstow', 'compile-cache');
    fs.mkdirSync(shared, { recursive: true });
    fs.chmodSync(shared, 0o777);
    assert.equal(enabledDir({ XDG_CACHE_HOME: base }), 'off');
    const file = path.join(base, 'a-file');
    fs.writeFileSync(file, '');
    assert.equal(enabledDir({ XDG_CACHE_HOME: file }), 'off'); // cannot create a directory under a file
    assert.equal(enabledDir({ XDG_CACHE_HOME: path.join(base, 'ok'), NODE_DISABLE_COMPILE_CACHE: '1' }), 'off');
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test('the pgstow program fills its cache: a second start reads the compiled code from it', () => {
  const base = tmp();
  try {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NODE_COMPILE_CACHE') && k !== 'NODE_DISABLE_COMPILE_CACHE'));
    const out = execFileSync(process.execPath, [pgstowBin, '--version'], { env: { ...clean, XDG_CACHE_HOME: base }, encoding: 'utf8' });
    assert.match(out, /^pgstow /);
    const dir = path.join(base, 'pgstow', 'compile-cache');
    const entries = fs.readdirSync(dir, { recursive: true }).filter((e) => fs.statSync(path.join(dir, String(e))).isFile());
    assert.ok(entries.length >= 3, `expected cached modules in ${dir}, found ${entries.length}`);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});
