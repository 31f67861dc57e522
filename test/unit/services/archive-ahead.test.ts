/**
 * Archive-ahead in a long-lived process (the plugin sidecar's `background` mode) on the memory store: an upload
 * ahead that ends while PostgreSQL's archiver is calling starts the next ready file at once (not only the next
 * call), never more uploads at once than the budget allows, every file archived ahead gets its spool marker and
 * its later call is answered from it; once the calls stop, the refills stop; and once the calls find their markers
 * without waiting (the uploads are ahead of them), uploads that end start nothing until the next call.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { archiveWal, type AheadState, type ArchiveWalInput } from '../../../src/services/archive-wal.js';
import { BarmanLayout } from '../../../src/repository/barman-layout.js';
import { MemoryObjectStore, dropMemoryBucket } from '../../../src/storage/drivers/memory/memory-store.js';
import { withFaults, type FaultyObjectStore } from '../../../src/storage/decorators/faulty-store.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { syntheticSegment } from '../../harness/wal-segments.js';

const SEGMENT = 1024 * 1024;
const layout = new BarmanLayout('', 'srv');
const seg = (n: number): string => `00000001000000000000${n.toString(16).toUpperCase().padStart(4, '0')}`;
let dir: string;
let bucket = 0;

before(() => { dir = makeTempDir('archive-ahead'); });
after(() => removeDir(dir));

interface World {
  store: FaultyObjectStore;
  walDir: string;
  spool: string;
  /** Most puts in flight at one moment, and the names put so far (in order). */
  maxPuts(): number;
  puts: string[];
  background: NonNullable<ArchiveWalInput['background']>;
  /** Resolves once every background upload started so far has settled. */
  idle(): Promise<void>;
}

/** A pg_wal with `count` ready 1 MiB segments from `first`, a spool, and the background runner a sidecar's engine gives. */
function world(first: number, count: number): World {
  const name = `archive-ahead-${++bucket}`;
  const store = withFaults(new MemoryObjectStore(name));
  after(() => dropMemoryBucket(name));
  const walDir = path.join(dir, name, 'pg_wal');
  fs.mkdirSync(path.join(walDir, 'archive_status'), { recursive: true });
  for (let n = first; n < first + count; n++) {
    fs.writeFileSync(path.join(walDir, seg(n)), syntheticSegment(seg(n), { segmentSize: SEGMENT, seed: n }));
    fs.writeFileSync(path.join(walDir, 'archive_status', `${seg(n)}.ready`), '');
  }
  let active = 0;
  let max = 0;
  const puts: string[] = [];
  const put = store.put.bind(store);
  store.put = async (key, body, options) => {
    active++;
    max = Math.max(max, active);
    puts.push(path.basename(key));
    try { return await put(key, body, options); } finally { active--; }
  };
  const running = new Set<Promise<unknown>>();
  const ahead = new Map<string, AheadState>();
  return {
    store, walDir, spool: path.join(dir, name, 'spool'), maxPuts: () => max, puts,
    background: {
      ahead,
      run: (work) => {
        const p = work(new AbortController().signal);
        running.add(p);
        p.then(() => running.delete(p), () => running.delete(p));
        return p;
      },
    },
    idle: async () => { while (running.size > 0) await Promise.allSettled([...running]); },
  };
}

function call(w: World, n: number, maxParallel: number): ReturnType<typeof archiveWal> {
  return archiveWal({ store: w.store, layout }, { walPath: path.join(w.walDir, seg(n)), maxParallel, spoolDir: w.spool, background: w.background });
}

/** What PostgreSQL does after a successful archive_command. */
function markDone(w: World, n: number): void {
  fs.renameSync(path.join(w.walDir, 'archive_status', `${seg(n)}.ready`), path.join(w.walDir, 'archive_status', `${seg(n)}.done`));
}

describe('archive-ahead in a long-lived process', () => {
  it('an upload ahead that ends while a call waits starts the next ready file; never more than maxParallel at once', async () => {
    const w = world(0x20, 6);
    // The call's own upload is slow: the files ahead of it end first, each freeing its slot.
    w.store.add({ operations: ['put'], key: new RegExp(`${seg(0x20)}$`), action: { type: 'delay', ms: 1500 } });
    const first = await call(w, 0x20, 2);
    assert.equal(first.status, 'uploaded');
    markDone(w, 0x20);
    // Before this change only seg 21 was uploaded during this call (the next ones waited for the next calls).
    for (const n of [0x21, 0x22, 0x23, 0x24, 0x25]) assert.ok(w.puts.includes(seg(n)), `${seg(n)} was archived ahead during the first call: ${w.puts.join(', ')}`);
    assert.ok(w.maxPuts() <= 2, `at most maxParallel uploads at once (${w.maxPuts()})`);
    await w.idle();
    assert.deepEqual(fs.readdirSync(w.spool).sort(), [0x21, 0x22, 0x23, 0x24, 0x25].map(seg), 'a marker for each file archived ahead');
    for (const n of [0x21, 0x22, 0x23, 0x24, 0x25]) {
      const r = await call(w, n, 2);
      assert.equal(r.status, 'spooled', `${seg(n)} answered from its marker`);
      markDone(w, n);
    }
    assert.equal(w.puts.length, 6, 'each file uploaded once');
    assert.deepEqual(fs.readdirSync(w.spool), [], 'every marker consumed');
  });

  it('refills stop once the calls stop: ready files beyond them wait for PostgreSQL', async () => {
    const w = world(0x40, 40);
    w.store.add({ operations: ['put'], key: /wals\//, after: 1, action: { type: 'delay', ms: 250 } });
    await call(w, 0x40, 2);
    markDone(w, 0x40);
    // One upload ahead at a time, 250 ms each: without a bound the 39 others would all be stored within ~10 s.
    await new Promise((r) => setTimeout(r, 4000));
    const stored = w.puts.length;
    await new Promise((r) => setTimeout(r, 1000));
    await w.idle();
    assert.equal(w.puts.length, stored, 'no upload started after the calls had stopped');
    assert.ok(stored < 40, `ready files stay for PostgreSQL's calls (${stored} of 40 uploaded)`);
  });

  it('once a call finds its marker without waiting, an upload ahead that ends starts nothing until the next call', async () => {
    const w = world(0x80, 40);
    w.store.add({ operations: ['put'], key: /wals\//, after: 1, action: { type: 'delay', ms: 250 } });
    // The first call uploads its own file (nothing was ahead of it): uploads are the limit, refills run.
    await call(w, 0x80, 3);
    markDone(w, 0x80);
    // Past the refills' linger, everything started has ended.
    await new Promise((r) => setTimeout(r, 2200));
    await w.idle();
    const before = w.puts.length;
    // Uploaded ahead in the first call: answered from its marker at once. Its call fills the two free slots.
    const hit = await call(w, 0x81, 3);
    assert.equal(hit.status, 'spooled');
    markDone(w, 0x81);
    await w.idle();
    await new Promise((r) => setTimeout(r, 300));
    await w.idle();
    // Before this change each of the two uploads that ended started the next ready file (and so on for 2 s).
    assert.ok(w.puts.length - before <= 2, `only the call's refill uploaded ahead (${w.puts.length - before} more after the marker hit: ${w.puts.slice(before).join(', ')})`);
  });

  it('a call that waits for its upload ahead counts as behind from the start: that upload\'s end starts the next file', async () => {
    const w = world(0xc0, 40);
    w.store.add({ operations: ['put'], key: /wals\//, after: 1, action: { type: 'delay', ms: 250 } });
    await call(w, 0xc0, 3);
    markDone(w, 0xc0);
    await new Promise((r) => setTimeout(r, 2200));
    await w.idle();
    // Files archived ahead so far (each has its marker); the next two will be started by the marker hit's call.
    const m = Math.max(...fs.readdirSync(w.spool).map((f) => parseInt(f.slice(-4), 16)));
    // The first matching fault applies: the two slow ones go before the 250 ms one.
    w.store.injector.clear();
    for (const n of [m + 2, m + 3]) w.store.add({ operations: ['put'], key: new RegExp(`${seg(n)}$`), action: { type: 'delay', ms: 2000 } });
    w.store.add({ operations: ['put'], key: /wals\//, action: { type: 'delay', ms: 250 } });
    const hit = await call(w, 0xc1, 3);
    assert.equal(hit.status, 'spooled');
    markDone(w, 0xc1);
    // Its refill runs beside the answer: give it the moment it needs to list the ready files and start the puts.
    for (let t = 0; t < 100 && !(w.puts.includes(seg(m + 1)) && w.puts.includes(seg(m + 2))); t++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(w.puts.includes(seg(m + 1)) && w.puts.includes(seg(m + 2)), `the hit's call started ${seg(m + 1)} and ${seg(m + 2)}: ${w.puts.join(', ')}`);
    // This call fills the free slot (m + 3, 2 s) and waits for its own upload ahead (250 ms) with every slot busy:
    // when its own ends, the next ready file starts at once. (Before, that upload's end still saw the marker hit's
    // "not behind", and nothing started until the slow ones ended.)
    const waited = await call(w, m + 1, 3);
    assert.equal(waited.status, 'spooled');
    assert.ok(w.puts.includes(seg(m + 3)), `${seg(m + 3)} started at the call: ${w.puts.slice(-4).join(', ')}`);
    for (let t = 0; t < 20 && !w.puts.includes(seg(m + 4)); t++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(w.puts.includes(seg(m + 4)), `${seg(m + 4)} started when the awaited upload ended: ${w.puts.slice(-4).join(', ')}`);
    await w.idle();
  });
});
