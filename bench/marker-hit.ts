/**
 * `npm run build && node dist/bench/marker-hit.js [--calls 2000] [--reps 3] [--builds this=dist,base=/path/to/dist]`
 * The Archive answer for a WAL file archived ahead (its spool marker found), the usual answer of the sidecar under
 * the archive load: archiveWal in the sidecar's background mode, in a child process per build and repetition
 * (builds in a new random order each repetition), each file's marker written beforehand and no other `.ready`
 * file (so no upload runs). Prints wall µs per call (median of the calls of a run) and CPU µs per call per run,
 * medians (min–max) over runs, and the load average.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, shuffled, stats } from './lib/measure.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

function option(name: string, def: string): string {
  const argv = process.argv.slice(2);
  const i = argv.indexOf(name);
  return (i >= 0 ? argv[i + 1] : undefined) ?? def;
}

interface Result { wallUsMedian: number; cpuUsPerCall: number }

/** One run in this process: `calls` marker hits against the build at `dist`. */
async function child(dist: string, calls: number): Promise<Result> {
  const { archiveWal } = await import(path.join(dist, 'src/services/archive-wal.js')) as typeof import('../src/services/archive-wal.js');
  const { BarmanLayout } = await import(path.join(dist, 'src/repository/barman-layout.js')) as typeof import('../src/repository/barman-layout.js');
  const { MemoryObjectStore } = await import(path.join(dist, 'src/storage/drivers/memory/memory-store.js')) as typeof import('../src/storage/drivers/memory/memory-store.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstow-marker-hit-'));
  try {
    const walDir = path.join(dir, 'pg_wal');
    const spool = path.join(dir, 'spool');
    fs.mkdirSync(path.join(walDir, 'archive_status'), { recursive: true });
    fs.mkdirSync(spool);
    const names = Array.from({ length: calls }, (_, i) => `00000001000000${(1 + Math.floor(i / 256)).toString(16).toUpperCase().padStart(2, '0')}000000${(i % 256).toString(16).toUpperCase().padStart(2, '0')}`);
    for (const n of names) {
      const f = path.join(walDir, n);
      fs.writeFileSync(f, Buffer.alloc(4096));
      const st = fs.statSync(f);
      fs.writeFileSync(path.join(spool, n), JSON.stringify({ dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, key: `srv/wals/${n.slice(0, 16)}/${n}` }));
    }
    const store = new MemoryObjectStore(`marker-hit-${process.pid}`);
    const background = { ahead: new Map(), run: (work: (signal: AbortSignal) => Promise<unknown>) => work(new AbortController().signal) };
    const deps = { store, layout: new BarmanLayout('', 'srv') };
    const walls: number[] = [];
    const cpu0 = process.cpuUsage();
    for (const n of names) {
      const t = process.hrtime.bigint();
      const r = await archiveWal(deps, { walPath: path.join(walDir, n), maxParallel: 8, spoolDir: spool, background } as Parameters<typeof archiveWal>[1]);
      walls.push(Number(process.hrtime.bigint() - t) / 1000);
      if (r.status !== 'spooled') throw new Error(`${n}: ${r.status}, not answered from its marker`);
    }
    const cpu = process.cpuUsage(cpu0);
    walls.sort((a, b) => a - b);
    return { wallUsMedian: walls[Math.floor(walls.length / 2)] as number, cpuUsPerCall: (cpu.user + cpu.system) / calls };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  const calls = Number(option('--calls', '2000'));
  const reps = Number(option('--reps', '3'));
  const builds = option('--builds', `this=${path.resolve(HERE, '..')}`).split(',').map((b) => b.split('=') as [string, string]);
  const results = new Map<string, Result[]>(builds.map(([name]) => [name, []]));
  const loadAtStart = os.loadavg().map((n) => n.toFixed(1)).join(' ');
  for (let rep = 0; rep < reps; rep++) {
    for (const [name, dist] of shuffled(builds)) {
      const out = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', path.resolve(dist), String(calls)], { encoding: 'utf8' });
      if (out.status !== 0) throw new Error(`${name}: ${out.stderr}`);
      const r = JSON.parse(out.stdout) as Result;
      results.get(name)?.push(r);
      console.log(`${name}\trep ${rep}\twall µs/call (median) ${r.wallUsMedian.toFixed(0)}\tCPU µs/call ${r.cpuUsPerCall.toFixed(0)}`);
    }
  }
  console.log(`\n${calls} marker hits per run, ${reps} runs per build; median (min–max) over runs; load average at the start ${loadAtStart}, at the end ${os.loadavg().map((n) => n.toFixed(1)).join(' ')}\n`);
  console.log('| build | wall µs per call | CPU µs per call |\n|---|---|---|');
  for (const [name, rs] of results) console.log(`| ${name} | ${fmt(stats(rs.map((r) => r.wallUsMedian)))} | ${fmt(stats(rs.map((r) => r.cpuUsPerCall)))} |`);
}

if (process.argv[2] === '--child') {
  child(process.argv[3] as string, Number(process.argv[4])).then((r) => console.log(JSON.stringify(r)), (err: unknown) => { console.error(err); process.exit(1); });
} else {
  main();
}
