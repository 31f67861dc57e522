/**
 * Round trip through pgstow only, on every store kind that is available: WAL archived with
 * `pgstow wal-archive`, base backups with `pgstow backup` (every compression on fs), then
 * `pgstow restore --recovery-target-*`, PostgreSQL started on the result, per-table checksums compared at the
 * backup end, at a time, at a restore point and at the end of the archive. A tampered object of a pgstow
 * backup is caught by the manifest (sha256). A missing store server fails the test in CI (storeTarget).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startPostgres, type PostgresServer } from '../harness/postgres.js';
import { binCommandLine, runCli } from '../harness/cli.js';
import { storeTarget, type StoreKind, type StoreTarget } from '../harness/stores.js';
import { chownToPostgres, makeTempDir, removeDir } from '../harness/tmp.js';
import { createTables, insertRows, startRestored, switchAndArchive, tableChecksums, type Checksums } from './restore-fixtures.js';

const SERVER = 'main';
const work = makeTempDir('restore-pgstow');
fs.chmodSync(work, 0o755);
const cleanup: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  if (!process.env.PGSTOW_KEEP_TMP) removeDir(work);
});

interface Scenario {
  pg: PostgresServer;
  target: StoreTarget;
  states: Record<string, Checksums>;
  backupIds: Record<string, string>;
  timeAfterBatch1: string;
}

async function scenario(target: StoreTarget, compressions: string[]): Promise<Scenario> {
  // archive_command runs as the postgres OS user: it must be able to write a file:// store.
  if (target.kind === 'fs') chownToPostgres(path.dirname(new URL(target.url).pathname));
  const archive = `${binCommandLine('pgstow')} wal-archive ${target.args.join(' ')} ${target.url} ${SERVER} %p`;
  const pg = await startPostgres({ env: target.env, settings: { archive_mode: 'on', archive_command: archive } });
  cleanup.push(() => pg.destroy());
  // Archive one segment first so the server's directories in a file:// store belong to postgres, which
  // must keep writing there while the backups (run as this test's user) add theirs.
  await switchAndArchive(pg);
  await createTables(pg);
  await insertRows(pg, 2000);
  const states: Record<string, Checksums> = { backup: await tableChecksums(pg) };
  const backupIds: Record<string, string> = {};
  for (const c of compressions) {
    const flag = c === 'none' ? [] : [`--${c}`];
    const r = await runCli('pgstow', ['backup', ...target.args, ...flag, '--immediate-checkpoint', '--progress', 'off', '-n', `b-${c}`,
      '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', target.url, SERVER], { env: target.env, timeoutMs: 300_000 });
    assert.equal(r.code, 0, `backup ${c}: ${r.stderr}`);
    backupIds[c] = `b-${c}`;
    await new Promise((res) => setTimeout(res, 1100)); // backup ids have one-second resolution
  }
  await insertRows(pg, 300);
  states.batch1 = await tableChecksums(pg);
  const timeAfterBatch1 = (await pg.query<{ t: string }>(`SELECT to_char(clock_timestamp(), 'YYYY-MM-DD HH24:MI:SS.USOF') AS t`))[0]?.t as string;
  await new Promise((res) => setTimeout(res, 1100));
  await insertRows(pg, 300);
  states.batch2 = await tableChecksums(pg);
  await pg.query(`SELECT pg_create_restore_point('rp-2')`);
  await insertRows(pg, 300);
  states.batch3 = await tableChecksums(pg);
  await switchAndArchive(pg);
  return { pg, target, states, backupIds, timeAfterBatch1 };
}

async function restoreAndCompare(s: Scenario, label: string, backup: string, pitr: string[], expected: Checksums): Promise<void> {
  const dir = path.join(work, `${s.target.kind}-${label}`);
  const r = await runCli('pgstow', ['restore', ...s.target.args, ...pitr, s.target.url, SERVER, backup, dir], { env: s.target.env, timeoutMs: 300_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /recovery settings written/);
  const server = await startRestored(dir, s.target.env);
  cleanup.push(() => server.destroy());
  assert.deepEqual(await tableChecksums(server), expected, label);
  await server.destroy();
}

describe('pgstow backup → pgstow restore with PITR on fs, every compression', () => {
  it('restores each compression to the backup end, and PITR to a time, a restore point and the latest WAL', async (t) => {
    const target = storeTarget(t, 'fs', 'rt-fs') as StoreTarget;
    const compressions = ['none', 'gzip', 'snappy', 'bzip2', 'lz4', 'zstd'];
    const s = await scenario(target, compressions);
    for (const c of compressions) await restoreAndCompare(s, `imm-${c}`, s.backupIds[c] as string, ['--recovery-target-immediate'], s.states.backup as Checksums);
    await restoreAndCompare(s, 'time', 'auto', ['--recovery-target-time', s.timeAfterBatch1], s.states.batch1 as Checksums);
    await restoreAndCompare(s, 'name', 'latest', ['--recovery-target-name', 'rp-2'], s.states.batch2 as Checksums);
    await restoreAndCompare(s, 'latest', 'b-gzip', ['--recovery-target-latest', '--target-timeline', 'latest'], s.states.batch3 as Checksums);

    // A tampered object keeps its size but not its content: the manifest's sha256 catches it.
    const root = new URL(target.url).pathname;
    const baseDir = path.join(root, SERVER, 'base');
    const id = fs.readdirSync(baseDir).sort()[0] as string; // the uncompressed backup
    const tar = path.join(baseDir, id, 'data.tar');
    const buf = fs.readFileSync(tar);
    const at = buf.indexOf(Buffer.from('PostgreSQL restore test'));
    assert.ok(at > 0);
    buf[at] = 0x70; // 'P' → 'p': still a valid tar, different data
    fs.writeFileSync(tar, buf);
    const r = await runCli('pgstow', ['restore', ...target.args, target.url, SERVER, id, path.join(work, 'tampered')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${SERVER}/base/${id}/data\\.tar does not match what was uploaded`));
  });
});

for (const kind of ['moto', 's3rver', 'azurite', 'gcs'] as StoreKind[]) {
  describe(`pgstow backup → pgstow restore with PITR on ${kind}`, () => {
    it('one gzip backup: restored to the backup end, a time, the restore point and the latest WAL', async (t) => {
      const target = storeTarget(t, kind, `rt-${kind}`);
      if (!target) return;
      // One backup serves all four targets: they differ only in how much WAL is replayed after it.
      const s = await scenario(target, ['gzip']);
      await restoreAndCompare(s, 'imm', 'b-gzip', ['--recovery-target-immediate'], s.states.backup as Checksums);
      await restoreAndCompare(s, 'time', 'auto', ['--recovery-target-time', s.timeAfterBatch1], s.states.batch1 as Checksums);
      await restoreAndCompare(s, 'name', 'latest', ['--recovery-target-name', 'rp-2'], s.states.batch2 as Checksums);
      await restoreAndCompare(s, 'latest', 'b-gzip', ['--recovery-target-latest'], s.states.batch3 as Checksums);
    });
  });
}
