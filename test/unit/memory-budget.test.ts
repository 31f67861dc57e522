import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_MAX_MEMORY, MiB, RUNTIME_RESERVE, WAL_DOWNLOAD_COST, memoryBudget, minPartSizeFor, parseMemorySize, planBackup, planRestore,
  walDownloadCost, walFilesAtOnce,
} from '../../src/memory-budget.js';

const GiB = 1024 * MiB;
const s3 = { minPart: minPartSizeFor('s3'), maxParts: 10_000 };

describe('memory budget', () => {
  it('the default budget is 100 MiB: what is left after the runtime holds live buffers and garbage of two pacing steps', () => {
    const b = memoryBudget();
    assert.equal(b.maxBytes, DEFAULT_MAX_MEMORY);
    assert.equal(b.buffers + 2 * b.pacing, DEFAULT_MAX_MEMORY - RUNTIME_RESERVE);
    assert.ok(b.pacing >= 2 * MiB && b.pacing <= b.buffers);
  });

  it('a budget below the runtime still leaves the minimum buffers', () => {
    const b = memoryBudget(32 * MiB);
    assert.ok(b.buffers >= 8 * MiB);
  });

  it('backup: the default budget holds the plan, with S3 parts at the 5 MiB minimum and compression on every core', () => {
    const b = memoryBudget();
    const p = planBackup(b, { jobs: 2, compressed: true, archives: 1, ...s3, volumeSizeHint: 5 * GiB });
    assert.ok(p.partSize >= 5 * MiB && p.partSize <= 8 * MiB, String(p.partSize));
    assert.ok(p.partsInFlight >= 1);
    assert.ok(p.compressionBlock >= 256 * 1024 && p.compressionBlock <= MiB);
    assert.equal(p.overBudget, false);
    assert.ok(p.bytes <= b.buffers, `${p.bytes} ≤ ${b.buffers}`);
  });

  it('backup: at the default budget S3 parts are the 5 MiB minimum, compressed or not (the streams\' queues are left room)', () => {
    for (const compressed of [false, true]) {
      const p = planBackup(memoryBudget(), { jobs: 2, compressed, archives: 1, ...s3, volumeSizeHint: 5 * GiB });
      assert.equal(p.partSize, 5 * MiB, `compressed ${compressed}: ${JSON.stringify(p)}`);
      // Two buffers, and both may be on the wire: a full part does not wait for the other one's answer.
      assert.equal(p.partBuffers, 2);
      assert.equal(p.partsInFlight, 2);
      assert.equal(p.overBudget, false);
    }
  });

  it('backup: a compressor stream\'s output chunk fills within a pacing step (pacing / (16 × jobs), 16 KiB to the block)', () => {
    const at = (max: number, jobs: number): number =>
      planBackup(memoryBudget(max * MiB), { jobs, compressed: true, archives: 1, ...s3, volumeSizeHint: 5 * GiB }).compressionOutputChunk;
    // The default budget (pacing 2 MiB): 64 KiB with --jobs 2, 128 KiB with 1; node:zlib's own default would be 16 KiB,
    // pgstow's earlier fixed 256-512 KiB buffers outlived young collections.
    assert.equal(at(100, 2), 64 * 1024);
    assert.equal(at(100, 1), 128 * 1024);
    assert.equal(at(100, 64), 16 * 1024);
    // 1 GiB (pacing 16 MiB): 512 KiB, never above the block.
    assert.equal(at(1024, 2), 512 * 1024);
    for (const [max, jobs] of [[100, 2], [256, 4], [1024, 1], [4096, 1]] as const) {
      const b = memoryBudget(max * MiB);
      const p = planBackup(b, { jobs, compressed: true, archives: 1, ...s3, volumeSizeHint: 5 * GiB });
      assert.ok(p.compressionOutputChunk <= p.compressionBlock && p.compressionOutputChunk * 16 * jobs <= Math.max(b.pacing, 16 * 1024 * 16 * jobs), JSON.stringify(p));
    }
  });

  it('backup: one part buffer more than parts in flight where the budget has room, parts in flight never above --jobs', () => {
    const big = planBackup(memoryBudget(256 * MiB), { jobs: 2, compressed: false, archives: 1, ...s3, volumeSizeHint: 5 * GiB });
    assert.deepEqual([big.partBuffers, big.partsInFlight], [3, 2], JSON.stringify(big));
    const one = planBackup(memoryBudget(), { jobs: 1, compressed: false, archives: 1, ...s3, volumeSizeHint: 5 * GiB });
    assert.deepEqual([one.partBuffers, one.partsInFlight], [2, 1], JSON.stringify(one));
    for (const max of [100, 130, 256, 1024]) {
      for (const jobs of [1, 2, 4, 8]) {
        const b = memoryBudget(max * MiB);
        const p = planBackup(b, { jobs, compressed: jobs % 2 === 0, archives: 2, ...s3, volumeSizeHint: 5 * GiB });
        assert.ok(p.partBuffers >= 2 && p.partsInFlight <= Math.min(jobs, p.partBuffers), JSON.stringify(p));
        assert.equal(p.bytes, p.archivesAtOnce * ((jobs % 2 === 0 ? 2 * (jobs + 1) * p.compressionBlock : 0) + p.partBuffers * p.partSize));
        assert.equal(p.overBudget, p.bytes > b.buffers);
      }
    }
  });

  it('backup: more memory gives larger parts, more of them in flight and archives in parallel; never beyond the budget', () => {
    for (const max of [100, 256, 512, 1024, 4096]) {
      const b = memoryBudget(max * MiB);
      const p = planBackup(b, { jobs: 4, compressed: true, archives: 3, ...s3, volumeSizeHint: 20 * GiB });
      assert.ok(p.bytes <= b.buffers, `${max} MiB: ${p.bytes} ≤ ${b.buffers}`);
      if (max >= 1024) assert.ok(p.archivesAtOnce === 3 && p.partsInFlight === 4 && p.partSize > 5 * MiB, JSON.stringify(p));
    }
  });

  it('backup: a volume too large for 10 000 small parts gets larger parts, and the plan says it is over budget', () => {
    const b = memoryBudget();
    const p = planBackup(b, { jobs: 2, compressed: false, archives: 1, ...s3, volumeSizeHint: 500 * GiB });
    assert.ok(p.partSize * 10_000 >= 500 * GiB);
    assert.equal(p.partBuffers, 2);
    assert.equal(p.overBudget, true);
  });

  it('restore: the default budget streams one object with one GET; a larger one uses ranged GETs and reads several objects', () => {
    const small = memoryBudget();
    const p = planRestore(small, { jobs: 2, objects: 3 });
    assert.equal(p.objectsAtOnce, 1);
    assert.equal(p.streams, 1, JSON.stringify(p));
    assert.ok(planRestore(memoryBudget(256 * MiB), { jobs: 2, objects: 1 }).streams >= 2);
    assert.ok(p.bytes <= small.buffers, `${p.bytes} ≤ ${small.buffers}`);
    const big = memoryBudget(1 * GiB);
    const q = planRestore(big, { jobs: 4, objects: 3 });
    assert.equal(q.objectsAtOnce, 3);
    assert.ok(q.bytes <= big.buffers);
    assert.equal(planRestore(big, { jobs: 4, objects: 1 }).objectsAtOnce, 1);
  });

  it('WAL: uploads at once follow the budget, at least one and at most maxParallel', () => {
    // Compressed (the default assumption): each holds up to its segment besides the upload's 1.5 MiB.
    assert.equal(walFilesAtOnce(memoryBudget(), { maxParallel: 8, segmentSize: 16 * MiB }), 1);
    assert.equal(walFilesAtOnce(memoryBudget(), { maxParallel: 8, segmentSize: 16 * MiB, compressed: true }), 1);
    assert.equal(walFilesAtOnce(memoryBudget(192 * MiB), { maxParallel: 8, segmentSize: 16 * MiB, compressed: true }), 4);
    assert.equal(walFilesAtOnce(memoryBudget(512 * MiB), { maxParallel: 8, segmentSize: 16 * MiB }), 8);
    assert.equal(walFilesAtOnce(memoryBudget(512 * MiB), { maxParallel: 3, segmentSize: 16 * MiB }), 3);
    // Streamed from the file: 1.5 MiB each, whatever the segment size (12 MiB of buffers at the default budget).
    assert.equal(walFilesAtOnce(memoryBudget(), { maxParallel: 8, segmentSize: 16 * MiB, compressed: false }), 8);
    assert.equal(walFilesAtOnce(memoryBudget(), { maxParallel: 16, segmentSize: 16 * MiB, compressed: false }), 8);
    assert.equal(walFilesAtOnce(memoryBudget(), { maxParallel: 8, segmentSize: MiB, compressed: true }), 4);
    assert.equal(walFilesAtOnce(memoryBudget(), { maxParallel: 0, segmentSize: MiB, compressed: false }), 1);
  });

  it('WAL downloads: lz4 and zstd are counted for their decoding, so one at a time fits the default budget', () => {
    const b = memoryBudget();
    assert.equal(walDownloadCost(undefined), WAL_DOWNLOAD_COST);
    assert.equal(walDownloadCost('gzip'), WAL_DOWNLOAD_COST);
    for (const c of ['lz4', 'zstd']) {
      assert.ok(walDownloadCost(c) > b.buffers / 2, c);
      assert.ok(4 * walDownloadCost(c) <= memoryBudget(256 * MiB).buffers, `${c}: four at once in 256 MiB`);
    }
    assert.ok(4 * walDownloadCost(undefined) <= b.buffers, 'four uncompressed at once in the default budget');
  });

  it('parses Kubernetes quantities (binary and decimal), a B suffix and plain bytes; refuses the rest', () => {
    assert.equal(parseMemorySize('100Mi'), 100 * MiB);
    assert.equal(parseMemorySize('100MiB'), 100 * MiB);
    assert.equal(parseMemorySize('1Gi'), GiB);
    assert.equal(parseMemorySize('1.5Gi'), 1.5 * GiB);
    assert.equal(parseMemorySize('512M'), 512_000_000);
    assert.equal(parseMemorySize('104857600'), 100 * MiB);
    for (const bad of ['', 'lots', '100 MB MB', '-1Mi', '0', '10Xi']) assert.throws(() => parseMemorySize(bad), RangeError, bad);
  });
});
