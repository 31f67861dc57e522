/**
 * A backup reports the bytes it moves to the process's GC pacer (src/gc-pacer.ts) as often as it makes garbage of
 * them: an uncompressed volume once per byte read (the stored chunks are the read ones: counting them again paced a
 * young collection every pacing/2 bytes, issue 15.1), a compressed one its reads and its compressor's output.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { takeBackup } from '../../src/services/take-backup.js';
import { memoryBudget } from '../../src/memory-budget.js';
import { silentLogger } from '../../src/logger.js';
import { BarmanLayout } from '../../src/repository/barman-layout.js';
import { dropMemoryBucket, MemoryObjectStore } from '../../src/storage/drivers/memory/memory-store.js';
import { resolveConnection } from '../../src/postgres/connection-options.js';
import { startArchivingPostgres, type BackupFixture } from './backup-fixtures.js';

let fx: BackupFixture;
before(async () => { fx = await startArchivingPostgres(15, { rows: 20000, tablespace: false }); });
after(async () => { await fx?.cleanup(); dropMemoryBucket('backup-pacing'); });

test('the pacer hears each uncompressed byte once, and a compressed volume\'s reads and stored bytes', async () => {
  const connection = await resolveConnection({}, { ...fx.pg.libpqEnv, PGUSER: 'postgres', PGDATABASE: 'postgres' });
  const deps = { store: new MemoryObjectStore('backup-pacing'), layout: new BarmanLayout('', 'pg') };
  for (const compression of ['none', 'gzip'] as const) {
    let noted = 0;
    const memory = { ...memoryBudget(), pacer: { note: (n: number) => { noted += n; } } };
    const r = await takeBackup(deps, { connection, compression, memory, immediateCheckpoint: true, log: silentLogger });
    const { tarBytes, storedBytes } = r.stats;
    // Reads are the files' contents: the tar less its headers, padding and end-of-archive blocks.
    const reads = compression === 'none' ? noted : noted - storedBytes;
    assert.ok(reads <= tarBytes && reads > 0.8 * tarBytes, `${compression}: ${noted} bytes noted, ${tarBytes} of tar, ${storedBytes} stored`);
  }
});
