import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { selectWalCandidate } from '../../../../src/domain/wal/wal-candidates.js';

const SUFFIXES = ['.gz', '.bz2', '.snappy', '.xz', '.zst', '.lz4'];
const DIR = 'p/s/wals/0000000100000000/';
const X = '000000010000000000000003';
const pick = (name: string, keys: string[], noPartial = false): string | undefined =>
  selectWalCandidate(name, DIR, keys.map((k) => DIR + k), { suffixes: SUFFIXES, noPartial })?.key.slice(DIR.length);

describe('selectWalCandidate', () => {
  it('prefers a compressed copy over the exact key (Barman), in listing order', () => {
    assert.equal(pick(X, [X, `${X}.gz`]), `${X}.gz`);
    assert.equal(pick(X, [`${X}.bz2`, `${X}.gz`]), `${X}.bz2`);
    assert.equal(pick(X, [X]), X);
  });
  it('finds every codec suffix, including the ones barman-cloud 3.4 does not know', () => {
    for (const s of ['.xz', '.zst', '.lz4', '.snappy']) assert.equal(pick(X, [`${X}${s}`]), `${X}${s}`);
  });
  it('falls back to .partial (compressed or not) but prefers a complete segment', () => {
    assert.equal(pick(X, [`${X}.partial`]), `${X}.partial`);
    assert.equal(pick(X, [`${X}.partial.gz`]), `${X}.partial.gz`);
    assert.equal(pick(X, [X, `${X}.partial`]), X);
    assert.equal(pick(X, [`${X}.partial`], true), undefined);
  });
  it('never returns a .backup file or another segment', () => {
    assert.equal(pick(X, [`${X}.00000028.backup`, `${X}.00000028.backup.gz`]), undefined);
    assert.equal(pick('000000010000000000000003', ['0000000100000000000000031']), undefined);
    assert.equal(pick(X, [`${X}.unknown`]), undefined);
  });
  it('handles history and backup names', () => {
    assert.equal(selectWalCandidate('00000002.history', 'p/s/wals/', ['p/s/wals/00000002.history.gz'], { suffixes: SUFFIXES })?.suffix, '.gz');
    assert.equal(pick(`${X}.00000028.backup`, [`${X}.00000028.backup`]), `${X}.00000028.backup`);
  });
});
