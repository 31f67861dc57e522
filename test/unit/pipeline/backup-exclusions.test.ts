import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PathRules, pgdataRules, tablespaceRules } from '../../../src/pipeline/backup-exclusions.js';

test('PGDATA rules exclude what Barman excludes and keep the directories', () => {
  const r = pgdataRules('/pg/data', [{ oid: 16384, location: '/srv/ts1' }, { oid: 16385, location: '/pg/data/inner_ts' }]);
  for (const [p, dir] of [['.', true], ['./PG_VERSION', false], ['pg_wal', true], ['pg_replslot', true], ['base/5/16384', false], ['global/1262', false], ['pg_tblspc', true]] as const) {
    assert.equal(r.allowed(p, dir), true, p);
  }
  for (const [p, dir] of [
    ['pg_wal/000000010000000000000001', false], ['pg_wal/archive_status', true], ['global/pg_control', false],
    ['./postmaster.pid', false], ['./postmaster.opts', false], ['./standby.signal', false], ['./recovery.conf', false],
    ['base/pgsql_tmp', true], ['base/5/pgsql_tmp123.0', false], ['base/5/pg_internal.init', false], ['global/pg_internal.init', false],
    ['pg_replslot/slot1', true], ['pg_stat_tmp/global.stat', false], ['pg_subtrans/0000', false], ['log/postgresql.log', false],
    ['pg_tblspc/16384', true], ['inner_ts', true], ['./postgresql.auto.conf.tmp', false],
  ] as const) {
    assert.equal(r.allowed(p, dir), false, p);
  }
});

test('tablespace rules keep only the PG_<major>_* subtree', () => {
  const r = tablespaceRules('15');
  assert.equal(r.allowed('.', true), false);
  assert.equal(r.allowed('PG_15_202209061', true), true);
  assert.equal(r.allowed('PG_15_202209061/5', true), true);
  assert.equal(r.allowed('PG_15_202209061/5/16390', false), true);
  assert.equal(r.allowed('PG_16_202307071', true), false);
  assert.equal(r.allowed('lost+found', true), false);
});

test('rule syntax: anchoring, ** and trailing slash (barman/fs.py _match_path)', () => {
  const r = new PathRules(['/a/b', 'c/d', 'x/**/y', 'dironly/']);
  assert.equal(r.allowed('a/b', false), false);
  assert.equal(r.allowed('z/a/b', false), true);
  assert.equal(r.allowed('c/d', false), false);
  assert.equal(r.allowed('z/c/d', false), false);
  assert.equal(r.allowed('x/1/2/y', false), false);
  assert.equal(r.allowed('dironly', false), true);
  assert.equal(r.allowed('dironly', true), false);
  // Brackets are literal in Barman's translation.
  assert.equal(new PathRules(['[0-9]']).allowed('5', false), true);
});
