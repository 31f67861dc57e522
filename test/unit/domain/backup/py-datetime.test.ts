import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PyDateTime } from '../../../../src/domain/backup/py-datetime.js';

test('str(datetime) round-trips with microseconds and offsets', () => {
  for (const t of ['2026-11-25 13:02:08.613911+01:00', '2026-11-25 10:26:14+00:00', '2026-01-05 03:04:05.000001-05:30', '2026-11-25 10:26:14']) {
    assert.equal(PyDateTime.parse(t).toString(), t);
  }
});

test('instants, ctime, isoformat and the list format', () => {
  const t = PyDateTime.parse('2026-11-25 13:02:15.792623+01:00');
  assert.equal(t.toDate().toISOString(), '2026-11-25T12:02:15.792Z');
  assert.equal(t.epochMicros, Date.UTC(2026, 10, 25, 12, 2, 15) * 1000 + 792623);
  assert.equal(t.ctime(), 'Wed Nov 25 13:02:15 2026');
  assert.equal(PyDateTime.parse('2026-11-05 01:02:03+00:00').ctime(), 'Thu Nov  5 01:02:03 2026');
  assert.equal(t.isoformat(), '2026-11-25T13:02:15.792623+01:00');
  assert.equal(t.formatSeconds(), '2026-11-25 13:02:15');
  assert.ok(t.compare(PyDateTime.parse('2026-11-25 12:02:15.792624+00:00')) < 0);
});

test('lenient input: T separator, Z, compact offsets, whitespace', () => {
  assert.equal(PyDateTime.parse(' 2026-11-25T12:00:00Z ').toDate().toISOString(), '2026-11-25T12:00:00.000Z');
  assert.equal(PyDateTime.parse('2026-11-25 12:00:00+0200').toDate().toISOString(), '2026-11-25T10:00:00.000Z');
  assert.equal(PyDateTime.parse('2026-11-25 12:00:00.5-03').toDate().toISOString(), '2026-11-25T15:00:00.500Z');
  assert.throws(() => PyDateTime.parse('2026-02-30 00:00:00+00:00'));
  assert.throws(() => PyDateTime.parse('yesterday'));
});

test('fromDate renders an instant at a given offset', () => {
  const d = new Date('2026-11-25T12:00:00.123Z');
  assert.equal(PyDateTime.fromDate(d, 60).toString(), '2026-11-25 13:00:00.123000+01:00');
  assert.equal(PyDateTime.fromDate(d, 0, 123456).toString(), '2026-11-25 12:00:00.123456+00:00');
});
