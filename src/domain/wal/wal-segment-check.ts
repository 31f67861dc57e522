/**
 * Checks that bytes are the WAL segment their name says, before PostgreSQL is given them: the size, every page
 * header (magic, the WAL position the page belongs to, timeline, flags) and, for complete segments, the CRC-32C and
 * back-link of every record that starts and ends inside the segment — the checks PostgreSQL's own reader makes,
 * which would otherwise only show as "invalid record length" and an early end of recovery.
 *
 * Fed in chunks (memory: one page); finish() returns the first problem found, or undefined. Layouts are
 * PostgreSQL's (access/xlog_internal.h, access/xlogrecord.h), identical from 9.5 to 18; the page magic differs per
 * major version, so any 0xDxxx magic is accepted and every page must carry the first page's.
 */
import { crc32c } from './crc32c.js';
import { parseWalFileName, segmentsPerLog } from './wal-file-name.js';

const SHORT_HEADER = 24;
const LONG_HEADER = 40;
const RECORD_HEADER = 24;
/** offsetof(XLogRecord, xl_crc): the CRC covers the record's data, then its header up to the CRC. */
const CRC_OFFSET = 20;
const XLP_FIRST_IS_CONTRECORD = 0x0001;
const XLP_LONG_HEADER = 0x0002;
const XLP_ALL_FLAGS = 0x000f;
const RM_XLOG_ID = 0;
const XLOG_SWITCH = 0x40;

export interface WalSegmentCheckOptions {
  /**
   * Check records (CRC and back-links) as well as page headers. Off for `.partial` segments, whose end holds
   * whatever the recycled file held before.
   */
  records?: boolean;
  /** Check only the first page header and the size (a `.partial` segment). */
  firstPageOnly?: boolean;
  /**
   * The CRC-32C over record bytes, same contract as crc32c() (default: that one, pure TypeScript). A caller may
   * give a faster one (a native module for long spans: services/wal-crc32c.ts); the domain loads none itself.
   */
  crc32c?: Crc32cFunction;
}

export type Crc32cFunction = (bytes: Uint8Array, crc: number, start: number, end: number) => number;

interface PageHeader {
  magic: number;
  info: number;
  tli: number;
  pageaddr: bigint;
  remLen: number;
}

export function lsnText(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

const align8 = (n: number): number => (n + 7) & ~7;

/** Incremental checker for one segment (or partial segment) named `walName`. */
export class WalSegmentChecker {
  private readonly timeline: number;
  private readonly log: number;
  private readonly seg: number;
  private readonly records: boolean;
  private readonly firstPageOnly: boolean;
  private problem: string | undefined;
  private total = 0;
  private head: Buffer[] = [];
  private headLen = 0;
  private pageSize = 0;
  private segSize = 0;
  private segStart = 0n;
  /** segStart's two 32-bit halves (segStartLo + any offset in the segment stays below 2^32). */
  private segStartHi = 0;
  private segStartLo = 0;
  private le = true;
  private magic = 0;
  private page: Buffer | undefined;
  private zeros: Buffer | undefined;
  private pageFill = 0;
  private pageNo = 0;
  private lastTli = 0;
  private emptyFrom = -1;
  // Record state
  private recordsOn: boolean;
  private skipCont = 0;
  private inRecord = false;
  private recStart = 0;
  private recHeader = Buffer.alloc(RECORD_HEADER);
  private recTotal = 0;
  private recGot = 0;
  private recCrc = 0;
  private prevRecStart = -1;
  /** Where a zero record length ended the records (-1: never): only empty pages may follow. */
  private recordsStopped = -1;
  private readonly crc32c: Crc32cFunction;

  constructor(readonly walName: string, options: WalSegmentCheckOptions = {}) {
    const parsed = parseWalFileName(walName);
    if (parsed.log === undefined || parsed.seg === undefined) throw new Error(`${walName} is not a WAL segment`);
    this.timeline = parsed.timeline;
    this.log = parsed.log;
    this.seg = parsed.seg;
    this.firstPageOnly = options.firstPageOnly ?? parsed.kind === 'partial';
    this.records = !this.firstPageOnly && (options.records ?? true);
    this.recordsOn = this.records;
    this.crc32c = options.crc32c ?? crc32c;
  }

  /** Feeds the next bytes of the file. */
  update(chunk: Uint8Array): void {
    if (this.problem !== undefined) { this.total += chunk.length; return; }
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.total += data.length;
    if (this.pageSize === 0) {
      // Until the first page header is complete, nothing says how large a page is. A first chunk holding the
      // whole header is read in place: copying it (a whole 16 MiB segment read at once) cost 32 MB per call.
      if (this.headLen > 0 || data.length < LONG_HEADER) {
        this.head.push(Buffer.from(data));
        this.headLen += data.length;
        if (this.headLen < LONG_HEADER) return;
        data = Buffer.concat(this.head, this.headLen);
        this.head = [];
      }
      if (!this.readFirstHeader(data)) return;
    }
    while (data.length > 0 && this.problem === undefined) {
      if (this.pageFill === 0 && data.length >= this.pageSize) {
        this.processPage(data.subarray(0, this.pageSize));
        data = data.subarray(this.pageSize);
        continue;
      }
      const page = (this.page ??= Buffer.alloc(this.pageSize));
      const n = Math.min(this.pageSize - this.pageFill, data.length);
      data.copy(page, this.pageFill, 0, n);
      this.pageFill += n;
      data = data.subarray(n);
      if (this.pageFill === this.pageSize) { this.pageFill = 0; this.processPage(page); }
    }
  }

  /** The first problem found (one line), or undefined when the bytes are a good segment. */
  finish(): string | undefined {
    if (this.problem !== undefined) return this.problem;
    if (this.pageSize === 0) return `${this.total} bytes is not a WAL segment (too short for a page header)`;
    if (this.total !== this.segSize) {
      return `${this.total} bytes, but its first page header says the segment size is ${this.segSize} bytes (truncated or padded)`;
    }
    return undefined;
  }

  /**
   * finish() for a file of `size` bytes of which only the first bytes (at least its first page, or all of a shorter
   * file) were fed: with firstPageOnly, the later pages are only counted, so their size is all that is missing.
   */
  finishAt(size: number): string | undefined {
    if (!this.firstPageOnly) throw new Error('finishAt needs a first-page-only check');
    if (this.problem === undefined && this.pageSize > 0 && this.pageNo === 0 && size >= this.pageSize) return `${this.total} bytes read do not hold its first page`;
    this.total = size;
    return this.finish();
  }

  /** Bytes seen so far. */
  get size(): number { return this.total; }

  private fail(message: string): void {
    this.problem ??= message;
  }

  private readFirstHeader(buf: Buffer): boolean {
    const le = buf.readUInt16LE(0);
    const be = buf.readUInt16BE(0);
    if ((le & 0xf000) === 0xd000) this.le = true;
    else if ((be & 0xf000) === 0xd000) this.le = false;
    else { this.fail(`not a WAL segment: the first page has magic 0x${le.toString(16).padStart(4, '0')}`); return false; }
    const h = this.header(buf);
    this.magic = h.magic;
    const segSize = this.u32(buf, 32);
    const blck = this.u32(buf, 36);
    if (!(h.info & XLP_LONG_HEADER)) { this.fail('the first page has no long header'); return false; }
    if (segSize < 1 << 20 || segSize > 1 << 30 || (segSize & (segSize - 1)) !== 0) { this.fail(`the first page header gives segment size ${segSize}, which PostgreSQL never uses`); return false; }
    if (blck < 1024 || blck > 65536 || (blck & (blck - 1)) !== 0 || blck > segSize) { this.fail(`the first page header gives page size ${blck}, which PostgreSQL never uses`); return false; }
    if (this.seg >= segmentsPerLog(segSize)) { this.fail(`the name does not fit segment size ${segSize} given by its header`); return false; }
    this.segSize = segSize;
    this.pageSize = blck;
    this.segStart = (BigInt(this.log) << 32n) + BigInt(this.seg) * BigInt(segSize);
    this.segStartHi = Number(this.segStart >> 32n);
    this.segStartLo = Number(this.segStart & 0xffffffffn);
    return true;
  }

  private zeroPage(): Buffer {
    return (this.zeros ??= Buffer.alloc(this.pageSize));
  }

  private u32(buf: Buffer, off: number): number {
    return this.le ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
  }

  private recordLsnText(): string {
    return lsnText(this.segStart + BigInt(this.recStart));
  }

  /** Whether the 64-bit LSN at `buf[off]` is segStart + `offset` (offset < segSize, which divides 2^32). */
  private isSegmentLsn(buf: Buffer, off: number, offset: number): boolean {
    const lo = this.le ? buf.readUInt32LE(off) : buf.readUInt32BE(off + 4);
    const hi = this.le ? buf.readUInt32LE(off + 4) : buf.readUInt32BE(off);
    return hi === this.segStartHi && lo === this.segStartLo + offset;
  }

  private header(p: Buffer): PageHeader {
    return {
      magic: this.le ? p.readUInt16LE(0) : p.readUInt16BE(0),
      info: this.le ? p.readUInt16LE(2) : p.readUInt16BE(2),
      tli: this.u32(p, 4),
      pageaddr: this.le ? p.readBigUInt64LE(8) : p.readBigUInt64BE(8),
      remLen: this.u32(p, 16),
    };
  }

  private processPage(p: Buffer): void {
    const k = this.pageNo++;
    if (k * this.pageSize >= this.segSize) { this.fail(`more than ${this.segSize} bytes, the segment size its header gives`); return; }
    if (this.firstPageOnly && k > 0) return;
    const where = `page ${k} (offset ${k * this.pageSize})`;
    const expected = this.segStart + BigInt(k * this.pageSize);
    if (isZero(p, 0, SHORT_HEADER) && k > 0) {
      // After an XLOG_SWITCH record PostgreSQL zeroes the rest of the segment, page headers included.
      if (this.inRecord || this.skipCont > 0) { this.fail(`${where} is empty, but the record at ${lsnText(this.segStart + BigInt(this.recStart))} continues there`); return; }
      if (!p.equals(this.zeroPage())) { this.fail(`${where} has no page header but holds data`); return; }
      if (this.emptyFrom < 0) this.emptyFrom = k;
      this.recordsOn = false;
      return;
    }
    const h = this.header(p);
    if (this.emptyFrom >= 0) { this.fail(`${where} has a page header after the empty page ${this.emptyFrom}`); return; }
    if (this.recordsStopped >= 0) {
      this.fail(`the records end at ${lsnText(this.segStart + BigInt(this.recordsStopped))} (zero length), yet ${where} holds WAL: bytes were zeroed`);
      return;
    }
    if (h.magic !== this.magic) { this.fail(`${where}: magic 0x${h.magic.toString(16)} differs from the first page's 0x${this.magic.toString(16)}`); return; }
    if (h.pageaddr !== expected) { this.fail(`${where}: its header says WAL position ${lsnText(h.pageaddr)}, expected ${lsnText(expected)}`); return; }
    if ((h.info & ~XLP_ALL_FLAGS) !== 0 || (k > 0 && (h.info & XLP_LONG_HEADER))) { this.fail(`${where}: invalid flags 0x${h.info.toString(16)}`); return; }
    if (h.tli < 1 || h.tli > this.timeline || h.tli < this.lastTli) { this.fail(`${where}: timeline ${h.tli} in a segment of timeline ${this.timeline}${this.lastTli > h.tli ? ` after timeline ${this.lastTli}` : ''}`); return; }
    this.lastTli = h.tli;
    if (this.recordsOn) this.checkRecords(p, h, k);
  }

  /** Walks the record bytes of page `k` (header already checked). */
  private checkRecords(p: Buffer, h: PageHeader, k: number): void {
    const base = k * this.pageSize;
    let off = k === 0 ? LONG_HEADER : SHORT_HEADER;
    const cont = (h.info & XLP_FIRST_IS_CONTRECORD) !== 0;
    if (k === 0 && cont) this.skipCont = h.remLen;
    else if (this.skipCont > 0 || this.inRecord) {
      const remaining = this.skipCont > 0 ? this.skipCont : this.recTotal - this.recGot;
      if (!cont || h.remLen !== remaining) {
        this.fail(`page ${k} (offset ${base}): a record continues here but the header says ${cont ? `${h.remLen} bytes remain, not ${remaining}` : 'no record continues'}`);
        return;
      }
    } else if (cont) {
      this.fail(`page ${k} (offset ${base}): the header says a record continues here, but none does`);
      return;
    }
    while (off < this.pageSize && this.recordsOn && this.problem === undefined) {
      if (this.skipCont > 0) {
        const n = Math.min(this.skipCont, this.pageSize - off);
        this.skipCont -= n;
        off += n;
        if (this.skipCont === 0) off = align8(off);
        continue;
      }
      if (!this.inRecord) {
        off = align8(off);
        if (off >= this.pageSize) break;
        const total = this.le ? p.readUInt32LE(off) : p.readUInt32BE(off);
        if (total === 0) { this.recordsStopped = base + off; this.recordsOn = false; break; }
        if (total < RECORD_HEADER) { this.fail(`record at ${lsnText(this.segStart + BigInt(base + off))}: invalid length ${total}`); return; }
        this.inRecord = true;
        this.recStart = base + off;
        this.recTotal = total;
        this.recGot = 0;
        this.recCrc = 0;
      }
      off = this.consumeRecord(p, off);
    }
  }

  /** Consumes bytes of the current record from page `p` at `off`; returns the new offset. */
  private consumeRecord(p: Buffer, off: number): number {
    const n = Math.min(this.recTotal - this.recGot, this.pageSize - off);
    let i = off;
    if (this.recGot < RECORD_HEADER) {
      const h = Math.min(RECORD_HEADER - this.recGot, n);
      const hdr = this.recHeader; // ≤ 24 bytes: a loop costs less than Buffer#copy's native call, once per record
      for (let j = 0; j < h; j++) hdr[this.recGot + j] = p[i + j] as number;
      this.recGot += h;
      i += h;
    }
    const rest = off + n - i;
    if (rest > 0) { this.recCrc = this.crc32c(p, this.recCrc, i, i + rest); this.recGot += rest; }
    if (this.recGot === this.recTotal) this.endRecord();
    return off + n;
  }

  private endRecord(): void {
    this.inRecord = false;
    const hdr = this.recHeader;
    // Runs once per record (~90,000 in a segment of small rows): the LSN text is made only for a message, and
    // the back-link is compared as two 32-bit halves, no BigInt (each cost ~1 µs per record, issue 15). No
    // closure here either: the CLI bundle keeps function names, which costs a defineProperty per closure made.
    const stored = this.u32(hdr, CRC_OFFSET);
    const computed = crc32c(hdr, this.recCrc, 0, CRC_OFFSET);
    if (stored !== computed) { this.fail(`record at ${this.recordLsnText()}: checksum mismatch (the record's CRC is 0x${stored.toString(16)}, its bytes give 0x${computed.toString(16)})`); return; }
    if (this.prevRecStart >= 0 && !this.isSegmentLsn(hdr, 8, this.prevRecStart)) {
      const prev = this.le ? hdr.readBigUInt64LE(8) : hdr.readBigUInt64BE(8);
      this.fail(`record at ${this.recordLsnText()}: it points back to ${lsnText(prev)}, not to the previous record at ${lsnText(this.segStart + BigInt(this.prevRecStart))}`);
      return;
    }
    this.prevRecStart = this.recStart;
    const info = hdr[16] as number;
    const rmid = hdr[17] as number;
    // The rest of the segment after a switch is zeroes (page headers included); nothing more to check there.
    if (rmid === RM_XLOG_ID && (info & 0xf0) === XLOG_SWITCH) this.recordsOn = false;
  }
}

function isZero(b: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (b[i] !== 0) return false;
  return true;
}

/** The first problem with `bytes` as the WAL segment `walName`, or undefined. */
export function walSegmentProblem(walName: string, bytes: Uint8Array, options?: WalSegmentCheckOptions): string | undefined {
  const c = new WalSegmentChecker(walName, options);
  c.update(bytes);
  return c.finish();
}
