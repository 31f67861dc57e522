import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseBackupInfo } from '../../../../src/domain/backup/backup-info.js';
import {
  JsonObject, backupInfoToJson, humanReadableSeconds, prettySize, pythonJsonDumps, pythonListRepr, renderBackupListConsole, renderBackupShowConsole,
} from '../../../../src/domain/backup/barman-output.js';
import { PyFloat } from '../../../../src/domain/backup/python-literal.js';

const FIXTURES = fileURLToPath(new URL('../../../../../test/fixtures/barman/3.4/', import.meta.url));
const read = (f: string): string => readFileSync(FIXTURES + f, 'utf8');
const IDS = ['20261125T120208', '20261125T120215', '20261125T120220'];
const KEEP: Record<string, string> = { '20261125T120208': 'standalone' };

function rows(): Array<{ id: string; info: ReturnType<typeof parseBackupInfo>['info']; keep: string | null }> {
  return IDS.map((id) => ({ id, info: parseBackupInfo(read(`${id}.backup.info`)).info, keep: KEEP[id] ?? null }));
}

test('backup-list --format json is byte-identical to barman-cloud 3.4', () => {
  const json = new JsonObject([['backups_list', rows().map((r) => backupInfoToJson(r.id, r.info))]]);
  assert.equal(pythonJsonDumps(json) + '\n', read('list.json'));
});

test('backup-show --format json is byte-identical to barman-cloud 3.4', () => {
  const r = rows()[1]!;
  const json = new JsonObject([[r.info.serverName!, backupInfoToJson(r.id, r.info)]]);
  assert.equal(pythonJsonDumps(json) + '\n', read('show.json'));
});

test('backup-list console output is byte-identical to barman-cloud 3.4', () => {
  assert.equal(renderBackupListConsole(rows()), read('list.console'));
});

test('backup-show console output is byte-identical to barman-cloud 3.4', () => {
  const [a, b] = rows();
  assert.equal(renderBackupShowConsole(b!.id, b!.info), read('show.console'));
  assert.equal(renderBackupShowConsole(a!.id, a!.info), read('show2.console'));
});

test('json.dumps details: ASCII escapes, floats, ISO times', () => {
  assert.equal(pythonJsonDumps(['é\u007f\n"\\', '\u{1F600}', new PyFloat(1), 0.5, null, true]), '["\\u00e9\\u007f\\n\\"\\\\", "\\ud83d\\ude00", 1.0, 0.5, null, true]');
  const r = rows()[0]!;
  const withIso = backupInfoToJson(r.id, r.info, { isoTimes: true });
  assert.deepEqual(withIso.entries.slice(-3).map(([k]) => k), ['backup_id', 'begin_time_iso', 'end_time_iso']);
  assert.equal(withIso.entries.at(-1)![1], '2026-11-25T13:02:12.103978+01:00');
  // As Barman ≥3.13 prints it (3.19, plugin-barman-cloud's): every field it knows, null when the file lacks it.
  const keys = withIso.entries.map(([k]) => k);
  for (const k of ['children_backup_ids', 'cluster_size', 'data_checksums', 'encryption', 'parent_backup_id', 'summarize_wal']) {
    assert.ok(keys.includes(k), k);
    assert.ok(!backupInfoToJson(r.id, r.info).entries.some(([x]) => x === k), `3.4 style: no ${k}`);
  }
});

test('pretty_size and the ≥3.11 show sections (cluster size, checksums, WAL summarizer)', () => {
  assert.deepEqual([0, 1023, 1024, 23199433, 5 * 2 ** 40].map(prettySize), ['0 B', '1023 B', '1.0 KiB', '22.1 MiB', '5.0 TiB']);
  const r = rows()[0]!;
  const info = { ...r.info, clusterSize: 23199433, dataChecksums: 'on', summarizeWal: 'off' };
  const text = renderBackupShowConsole(r.id, info);
  assert.match(text, /\n {2}PGDATA directory {7}: [^\n]*\n {2}Estimated Cluster Size : 22\.1 MiB\n\n {2}Server information:\n {4}Checksums {12}: on\n {4}WAL summarizer {7}: off\n\n/);
});

test('human readable durations and list repr', () => {
  assert.equal(humanReadableSeconds(0.4), 'less than one second');
  assert.equal(humanReadableSeconds(2.3), '2 seconds');
  assert.equal(humanReadableSeconds(90061), '1 day, 1 hour, 1 minute, 1 second');
  assert.equal(pythonListRepr(['a/b', "c'd"]), `['a/b', "c'd"]`);
});
