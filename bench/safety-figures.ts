/**
 * `npm run build && node dist/bench/safety-figures.js` (about 15 minutes; the servers are started by `npm test`)
 * The figures issue 16 asks for, from the tests that establish them (real servers, nothing simulated): WAL
 * corruption detected N of N (every codec, every store), the longest hang with the defaults (seconds, per
 * provider), race losses of concurrent archiver pairs (moto with --endpoint-url, s3rver which ignores the
 * create-only condition, Azurite, the GCS emulator, fs), secrets leaked over every input that can hold one.
 * Each test prints its figures as `# …` lines; this runs them through `npm test` and collects those lines into
 * a markdown list (stdout and bench/results/safety-latest.md).
 * The tests assert the figures (0 losses, 0 leaks, every change detected); this only reports them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TESTS = ['wal-corruption', 'archive-race', 'secrets', 'hanging-store'].map((t) => `test/integration/safety/${t}.test.ts`);
/** The `# …` lines the tests print (Node's runner echoes a test file's stdout). */
const FIGURE = /#\s+((?:WAL corruption detected|longest hang with defaults|longest hang of|[a-z0-9]+: race losses|secrets leaked).*)$/;

async function run(): Promise<{ figures: string[]; summary: string; code: number }> {
  const args = [path.join(ROOT, 'scripts', 'run-tests.mjs'), '--servers=moto,s3rver,azurite,gcs', ...TESTS];
  const child = spawn(process.execPath, args, {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, PGSTOW_TEST_CONCURRENCY: '1' },
  });
  const figures: string[] = [];
  let summary = '';
  let tail = '';
  child.stdout.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    const lines = (tail + chunk.toString('utf8')).split('\n');
    tail = lines.pop() ?? '';
    for (const l of lines) {
      const m = FIGURE.exec(l);
      if (m && !figures.includes(m[1] as string)) figures.push(m[1] as string);
      if (/^\d+ passed, \d+ failed/.test(l.trim())) summary = l.trim();
    }
  });
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  return { figures, summary, code };
}

const started = new Date();
const { figures, summary, code } = await run();
const md = [
  `## pgstow safety figures (${started.toISOString()}, ${code === 0 ? 'all tests passed' : `TESTS FAILED (exit ${code})`}: ${summary || 'no summary'})`,
  '',
  ...figures.map((f) => `- ${f}`),
  '',
  `Reproduce: \`npm run build && node dist/bench/safety-figures.js\` (tests: ${TESTS.join(', ')}).`,
  '',
].join('\n');
process.stdout.write(md);
fs.mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
fs.writeFileSync(path.join(ROOT, 'bench', 'results', 'safety-latest.md'), md);
process.exitCode = code;
