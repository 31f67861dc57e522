/**
 * LZ4 frame decoding alone, each way pgstow can do it, on real volumes (e.g. a backup's data.tar.lz4 written by
 * pgstow and by Barman 3.19): the in-process decoder of this build and of another build (--other TREE), the
 * `lz4` program fed through a Node pipe (what restore did), and `lz4 -dc` by itself (the floor). Each run is a
 * process of its own under /usr/bin/time (wall s, CPU s of the process and its children, peak RSS); every
 * repetition runs all variants in a new random order. Input comes in 64 KiB reads, as a download's chunks do.
 *   npm run build && node dist/bench/lz4-decode.js --files A.lz4,B.lz4 [--other TREE] [--reps 5]
 *     [--variants wasm,other,pipe,program]
 */
import { createReadStream } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { timed, stats, fmt } from './lib/measure.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

/** A sink that counts the decoded bytes. */
function counter(): { sink: Writable; bytes: () => number } {
  let n = 0;
  const sink = new Writable({ write(chunk: Buffer, _e, cb) { n += chunk.length; cb(); } });
  return { sink, bytes: () => n };
}

/** The worker: decodes one file one way and prints the decoded size. */
async function work(variant: string, file: string, tree: string): Promise<void> {
  const input = createReadStream(file, { highWaterMark: 64 << 10 });
  const { sink, bytes } = counter();
  if (variant === 'pipe') {
    const { filterThroughProgram } = await import('../src/pipeline/child-process-transform.js');
    await pipeline(input, filterThroughProgram('lz4', ['-dcq']), sink);
  } else {
    const url = pathToFileURL(path.join(tree, 'dist', 'src', 'pipeline', 'lz4-frames.js')).href;
    const { Lz4DecompressStream } = await import(url) as typeof import('../src/pipeline/lz4-frames.js');
    await pipeline(input, new Lz4DecompressStream(), sink);
  }
  process.stdout.write(`${bytes()}\n`);
}

async function main(): Promise<void> {
  const files = arg('files', '').split(',').filter(Boolean);
  const reps = Number(arg('reps', '5'));
  const other = arg('other', '');
  const variants = arg('variants', other ? 'wasm,other,pipe,program' : 'wasm,pipe,program').split(',');
  const self = fileURLToPath(import.meta.url);
  const here = path.resolve(path.dirname(self), '..', '..');
  const rows = new Map<string, { wall: number[]; cpu: number[]; rss: number[]; bytes: number }>();
  const load0 = os.loadavg()[0] as number;
  for (let r = 0; r < reps; r++) {
    const runs = files.flatMap((f) => variants.map((v) => ({ f, v })));
    runs.sort(() => Math.random() - 0.5);
    for (const { f, v } of runs) {
      const res = v === 'program'
        ? await timed('sh', ['-c', `lz4 -dc "${f}" | wc -c`])
        : await timed(process.execPath, [self, '--work', v, '--file', f, '--tree', v === 'other' ? path.resolve(other) : here]);
      const key = `${path.basename(f)} ${v}`;
      const row = rows.get(key) ?? { wall: [], cpu: [], rss: [], bytes: Number(res.stdout.trim()) };
      row.wall.push(res.wallSeconds); row.cpu.push(res.cpuSeconds); row.rss.push(res.maxRssKb / 1024);
      rows.set(key, row);
    }
  }
  const lines = [`${reps} repetition(s), load average ${load0.toFixed(1)} → ${(os.loadavg()[0] as number).toFixed(1)}`, '',
    '| file, decoder | MB/s of output | CPU s | peak RSS MiB |', '|---|---|---|---|'];
  for (const [key, row] of [...rows].sort()) {
    lines.push(`| ${key} | ${fmt(stats(row.wall.map((w) => row.bytes / 1e6 / w)), 0)} | ${fmt(stats(row.cpu), 2)} | ${fmt(stats(row.rss), 0)} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (process.argv.includes('--work')) await work(arg('work', ''), arg('file', ''), arg('tree', ''));
else await main();
