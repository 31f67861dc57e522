/**
 * Cost of one archive_command / restore_command call: `pgstow wal-archive` and `pgstow wal-restore` of one
 * 16 MiB segment, one process per call, on the filesystem, s3rver, Azurite and the GCS emulator, plus
 * `pgstow --version` and `node -e 0`. Reports CPU ms (user + sys, GNU time) beside wall ms: on a shared
 * machine CPU time is the stable number. No PostgreSQL needed: the segment is synthetic (a mix of random
 * pages, zero pages and text), so compressed sizes are only indicative.
 *
 *   npm run build && node dist/bench/wal-call-cost.js [--reps 5] [--only fs,s3rver] [--codecs none,gzip]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { timed, stats, fmt, type RunResult } from './lib/measure.js';
import { binPath } from '../test/harness/cli.js';
import { startGlobalServers } from '../test/harness/global-setup.js';
import { makeTempDir, removeDir } from '../test/harness/tmp.js';
import { syntheticSegment as walSegment } from '../test/harness/wal-segments.js';

const { values } = parseArgs({
  options: { reps: { type: 'string', default: '5' }, only: { type: 'string' }, codecs: { type: 'string', default: 'none,gzip,lz4,zstd' } },
});
const reps = Number(values.reps);
const codecs = (values.codecs as string).split(',');
const WAL = '000000010000000000000001';

/** A valid 16 MiB WAL segment (wal-archive checks its headers) whose records hold a mix of random, zero and text bytes. */
function syntheticSegment(file: string): void {
  const words = ['insert', 'update', 'pgbench_accounts', 'tuple', '0000000000', 'abcdef'];
  let seed = 1;
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  const payload = (n: number): Buffer => {
    const r = rnd();
    if (r < 0.3) return randomBytes(n);
    if (r < 0.65) return Buffer.alloc(n);
    return Buffer.from(Array.from({ length: Math.ceil(n / 5) + 1 }, () => words[Math.floor(rnd() * words.length)]).join(' '));
  };
  fs.writeFileSync(file, walSegment(WAL, { segmentSize: 16 * 1024 * 1024, payload }));
}

interface Target { name: string; url: string; args: string[]; env: Record<string, string> }

async function main(): Promise<void> {
  const dir = makeTempDir('wal-call-cost');
  const walFile = path.join(dir, WAL);
  syntheticSegment(walFile);
  const servers = await startGlobalServers(['s3rver', 'azurite', 'gcs']);
  try {
    const s = servers.env.servers;
    const targets: Target[] = [{ name: 'fs', url: `file://${path.join(dir, 'store')}`, args: ['--cloud-provider', 'file'], env: {} }];
    if (s.s3rver) targets.push({ name: 's3rver', url: 's3://pgstow-test/bench', args: ['--cloud-provider', 'aws-s3', '--endpoint-url', s.s3rver.endpoint], env: { AWS_ACCESS_KEY_ID: s.s3rver.accessKeyId, AWS_SECRET_ACCESS_KEY: s.s3rver.secretAccessKey, AWS_DEFAULT_REGION: s.s3rver.region } });
    if (s.azurite) targets.push({ name: 'azurite', url: `${s.azurite.accountUrl}/pgstow-test/bench`, args: ['--cloud-provider', 'azure-blob-storage'], env: { AZURE_STORAGE_CONNECTION_STRING: s.azurite.connectionString } });
    if (s.gcs) targets.push({ name: 'gcs', url: 'gs://pgstow-test/bench', args: ['--cloud-provider', 'google-cloud-storage'], env: { STORAGE_EMULATOR_HOST: s.gcs.endpoint, GOOGLE_CLOUD_PROJECT: s.gcs.projectId } });
    const only = values.only ? (values.only as string).split(',') : undefined;
    const rows: Array<[string, RunResult[]]> = [];
    const runs = async (label: string, fn: () => Promise<RunResult>): Promise<void> => {
      const rs: RunResult[] = [];
      for (let i = 0; i < reps; i++) rs.push(await fn());
      rows.push([label, rs]);
      process.stderr.write(`${label}: ${fmt(stats(rs.map((r) => r.cpuSeconds * 1000)), 0)} ms CPU\n`);
    };
    await runs('node -e 0', () => timed(process.execPath, ['-e', '0']));
    await runs('pgstow --version', () => timed(process.execPath, [binPath('pgstow'), '--version']));
    let n = 0;
    for (const t of targets.filter((x) => !only || only.includes(x.name))) {
      for (const codec of codecs) {
        const flag = codec === 'none' ? [] : [`--${codec}`];
        const server = (): string => `bench-${codec}-${process.pid}-${n++}`;
        await runs(`${t.name} wal-archive ${codec}`, () => timed(process.execPath, [binPath('pgstow'), 'wal-archive', ...flag, ...t.args, t.url, server(), walFile], { env: t.env }));
        // One archived copy per run, so each restore fetches (and decompresses) a real object.
        await runs(`${t.name} wal-restore ${codec}`, async () => {
          const srv = server();
          await timed(process.execPath, [binPath('pgstow'), 'wal-archive', ...flag, ...t.args, t.url, srv, walFile], { env: t.env });
          const dest = path.join(dir, `restored-${srv}`);
          const r = await timed(process.execPath, [binPath('pgstow'), 'wal-restore', ...t.args, t.url, srv, WAL, dest], { env: t.env });
          if (!fs.readFileSync(dest).equals(fs.readFileSync(walFile))) throw new Error(`${t.name} ${codec}: restored segment differs`);
          fs.rmSync(dest);
          return r;
        });
      }
    }
    const lines = ['| call | CPU ms (user+sys) | wall ms | peak RSS MiB |', '|---|---|---|---|'];
    for (const [label, rs] of rows) {
      lines.push(`| ${label} | ${fmt(stats(rs.map((r) => r.cpuSeconds * 1000)), 0)} | ${fmt(stats(rs.map((r) => r.wallSeconds * 1000)), 0)} | ${fmt(stats(rs.map((r) => r.maxRssKb / 1024)), 0)} |`);
    }
    process.stdout.write(`Node ${process.version}, ${reps} runs each, median (min–max)\n\n${lines.join('\n')}\n`);
  } finally {
    await servers.stop();
    removeDir(dir);
  }
}

await main();
