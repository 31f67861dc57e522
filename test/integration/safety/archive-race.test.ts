/**
 * Defect 3: two archivers of one WAL name with different content (an old primary after a failover). With
 * --endpoint-url pgstow sent no create-only condition: both exited 0 and one copy was gone (11 of 18 runs on moto).
 * Now at most one archiver is told "archived", and what it archived is what the store holds, also after PostgreSQL
 * retries the refused one (s3rver, which ignores the condition and can even interleave two writes into one damaged
 * object, is settled by the re-read and the damaged-object replacement). Reported: losses of N runs per store (a
 * loss = an archiver exited 0 but a restore does not give back its bytes).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../../harness/cli.js';
import { storeTarget, type StoreKind } from '../../harness/stores.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { syntheticSegment } from '../../harness/wal-segments.js';

const RUNS = 20;
const work = makeTempDir('archive-race');
after(() => removeDir(work));
const figures: string[] = [];
after(() => { for (const f of figures) process.stdout.write(`# ${f}\n`); });

const seg = (n: number): string => `0000000100000000${n.toString(16).toUpperCase().padStart(8, '0')}`;

describe('two archivers of one WAL name with different content', () => {
  for (const kind of ['moto', 's3rver', 'azurite', 'gcs', 'fs'] as StoreKind[]) {
    it(`${kind}: never both told "archived"; the one told so is the one stored (${RUNS} runs)`, async (t) => {
      const target = storeTarget(t, kind, `race-${kind}`);
      if (!target) return;
      let losses = 0;
      let bothOk = 0;
      for (let run = 1; run <= RUNS; run++) {
        const name = seg(run);
        const files = ['a', 'b'].map((who, i) => {
          const dir = path.join(work, `${kind}-${run}-${who}`);
          fs.mkdirSync(dir);
          const f = path.join(dir, name);
          fs.writeFileSync(f, syntheticSegment(name, { seed: run * 10 + i }));
          return f;
        });
        const flags = run % 2 === 0 ? ['--lz4'] : [];
        const archive = (f: string): ReturnType<typeof runCli> => runCli('barman-cloud-wal-archive', [...target.args, ...flags, target.url, 'srv', f], { env: target.env });
        const first = await Promise.all(files.map(archive));
        const codes = first.map((r) => r.code);
        // PostgreSQL retries a failed archive_command: once more each, one after the other.
        for (const [i, f] of files.entries()) if (codes[i] !== 0) codes[i] = (await archive(f)).code;
        for (const [i, c] of codes.entries()) assert.ok(c === 0 || c === 1, `exit 0 or 1 (refused), got ${c}: ${first[i]?.stderr}`);
        const winners = codes.map((c, i) => (c === 0 ? i : -1)).filter((i) => i >= 0);
        if (winners.length === 2) bothOk++;
        // What a restore gives back, through pgstow itself.
        const dest = path.join(work, `${kind}-${run}-restored`);
        const r = await runCli('barman-cloud-wal-restore', [...target.args, target.url, 'srv', name, dest], { env: target.env });
        assert.equal(r.code, 0, r.stderr);
        const restored = fs.readFileSync(dest);
        for (const w of winners) if (!restored.equals(fs.readFileSync(files[w] as string))) losses++;
        assert.ok(winners.length >= 1, 'one of them archived it');
      }
      figures.push(`${kind}: race losses ${losses} of ${RUNS} runs (both told "archived" in ${bothOk})`);
      assert.equal(losses, 0, `${losses} of ${RUNS} runs lost a segment an archiver was told was archived`);
    });
  }
});
