/**
 * `node dist/bench/archive-calls.js <run>.calls <sidecar>.log [more pairs…]`
 * Where the time of each archive_command goes under the load (bench/plugin-load.ts with PGSTOW_BENCH_CALL_LOG=<dir>,
 * PGSTOW_BENCH_SIDECAR_LOG_LEVEL=trace and --sidecar-logs <dir>): each call's wall time split into the manager's
 * start (up to the first RPC the sidecar answers: process start, the Cluster from the local web server, the
 * dial), loading the plugin (its RPCs before Archive and the gaps between them), the Archive answer, and the end
 * (after Archive: the status POST and the exit); the gap PostgreSQL leaves between two calls; by how the sidecar
 * answered (a spool marker found at once, a wait for its upload ahead, an upload in the call); and the uploads in
 * flight over the run (time-weighted; a build without its debug lines shows only the uploads ahead). Medians (min–max) in ms.
 */
import * as fs from 'node:fs';
import { fmt, stats } from './lib/measure.js';

interface Call { wal: string; start: number; end: number; rc: number }
interface Rpc { rpc: string; start: number; end: number }
interface Split { how: string; wall: number; pre: number; load: number; archive: number; post: number; gap?: number }

function readCalls(file: string): Call[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [p, s, e, rc] = l.split(' ');
    return { wal: (p ?? '').split('/').pop() ?? '', start: Number(s) * 1000, end: Number(e) * 1000, rc: Number(rc) };
  }).sort((a, b) => a.start - b.start);
}

function readLog(file: string): Array<Record<string, unknown>> {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** How the sidecar answered each WAL's Archive, from its debug lines. */
function answers(lines: ReadonlyArray<Record<string, unknown>>): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of lines) {
    const msg = String(l.msg);
    let m = /^answered (\w+) from its spool marker after waiting (\d+) ms/.exec(msg);
    if (m) { out.set(m[1] as string, Number(m[2]) > 0 ? 'waited for its upload ahead' : 'marker (upload ahead just ended)'); continue; }
    m = /^answered (\w+) from its spool marker/.exec(msg);
    if (m) { out.set(m[1] as string, 'marker found at once'); continue; }
    m = /^uploading (\w+) in its call/.exec(msg);
    if (m) { out.set(m[1] as string, 'uploaded in its call'); continue; }
    // A build without those lines: the WAL service's own line says spooled or uploaded.
    m = /^archived (\w+) \((\w[\w-]*)\)$/.exec(msg);
    if (m && !out.has(m[1] as string)) out.set(m[1] as string, m[2] === 'spooled' ? 'spool marker' : `${m[2] as string} in its call`);
  }
  return out;
}

/** Time-weighted uploads in flight between t0 and t1 (starts: "archiving X ahead (", ends: "archived X to", failures). */
function inFlight(lines: ReadonlyArray<Record<string, unknown>>, t0: number, t1: number): { mean: number; atMost: number; share: Map<number, number> } {
  const events: Array<[number, number]> = [];
  const started = new Set<string>();
  const perUpload = lines.some((l) => /^archiving \w+ ahead \(/.test(String(l.msg)));
  for (const l of lines) {
    const msg = String(l.msg);
    const ts = Date.parse(String(l.ts));
    let m = /^(?:archiving (\w+) ahead \(|uploading (\w+) in its call)/.exec(msg);
    if (m) { started.add((m[1] ?? m[2]) as string); events.push([ts, 1]); continue; }
    // A build without those lines lists the files each call starts ahead (its own upload is not seen).
    m = /^archiving \w+ with \d+ more ready file\(s\): (.*)$/.exec(msg);
    if (m && !perUpload) { for (const n of (m[1] as string).split(', ')) { started.add(n); events.push([ts, 1]); } continue; }
    m = /^(?:archived (\w+) to |parallel archiving of (\w+) failed)/.exec(msg);
    if (m && started.delete((m[1] ?? m[2]) as string)) events.push([ts, -1]);
  }
  events.sort((a, b) => a[0] - b[0]);
  const share = new Map<number, number>();
  let n = 0;
  let at = t0;
  let area = 0;
  let atMost = 0;
  for (const [ts, d] of events) {
    const t = Math.min(Math.max(ts, t0), t1);
    share.set(n, (share.get(n) ?? 0) + (t - at));
    area += n * (t - at);
    at = t;
    n += d;
    atMost = Math.max(atMost, n);
  }
  share.set(n, (share.get(n) ?? 0) + (t1 - at));
  area += n * (t1 - at);
  return { mean: area / Math.max(1, t1 - t0), atMost, share };
}

function splitCalls(calls: readonly Call[], lines: ReadonlyArray<Record<string, unknown>>): Split[] {
  const rpcs: Rpc[] = lines.filter((l) => l.msg === 'call done' && typeof l.rpc === 'string' && !String(l.rpc).startsWith('Metrics/'))
    .map((l) => { const end = Date.parse(String(l.ts)); return { rpc: String(l.rpc), start: end - Number(l.ms), end }; });
  const how = answers(lines);
  const out: Split[] = [];
  calls.forEach((c, i) => {
    // ts has ms resolution: 1 ms of slack on each side.
    const mine = rpcs.filter((r) => r.start >= c.start - 1 && r.end <= c.end + 1);
    const archive = mine.find((r) => r.rpc === 'WAL/Archive');
    const first = mine[0];
    if (!archive || !first) return;
    const next = calls[i + 1];
    out.push({
      how: c.rc !== 0 ? 'failed' : how.get(c.wal) ?? 'unknown', wall: c.end - c.start, pre: first.start - c.start, load: archive.start - first.start,
      archive: archive.end - archive.start, post: c.end - archive.end, ...(next ? { gap: next.start - c.end } : {}),
    });
  });
  return out;
}

function main(): void {
  const args = process.argv.slice(2);
  if (args.length < 2 || args.length % 2 !== 0) throw new Error('usage: archive-calls.js <run>.calls <sidecar>.log [more pairs…]');
  for (let i = 0; i < args.length; i += 2) {
    const calls = readCalls(args[i] as string);
    const lines = readLog(args[i + 1] as string);
    const splits = splitCalls(calls, lines);
    const t0 = calls[0]?.start ?? 0;
    const t1 = calls.at(-1)?.end ?? 0;
    const flight = inFlight(lines, t0, t1);
    console.log(`\n${args[i]}: ${calls.length} calls over ${((t1 - t0) / 1000).toFixed(1)} s (${splits.length} matched with the sidecar's RPCs); `
      + `uploads in flight: mean ${flight.mean.toFixed(2)}, at most ${flight.atMost}; share of time by count: `
      + [...flight.share.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}: ${((100 * v) / Math.max(1, t1 - t0)).toFixed(0)} %`).join(', '));
    const col = (rs: readonly Split[], f: (s: Split) => number | undefined): string => {
      const v = rs.map(f).filter((x): x is number => x !== undefined);
      return v.length ? fmt(stats(v), 0) : '–';
    };
    const rows = [['all', splits] as const, ...[...new Set(splits.map((s) => s.how))].sort().map((h) => [h, splits.filter((s) => s.how === h)] as const)];
    console.log('| answered | calls | wall ms | manager start ms | plugin load ms | Archive ms | after Archive ms | gap to next call ms |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const [h, rs] of rows) {
      console.log(`| ${h} | ${rs.length} | ${col(rs, (s) => s.wall)} | ${col(rs, (s) => s.pre)} | ${col(rs, (s) => s.load)} | ${col(rs, (s) => s.archive)} | ${col(rs, (s) => s.post)} | ${col(rs, (s) => s.gap)} |`);
    }
    const sum = (f: (s: Split) => number): number => splits.reduce((n, s) => n + f(s), 0);
    const total = sum((s) => s.wall + (s.gap ?? 0));
    const part = (f: (s: Split) => number): string => `${((100 * sum(f)) / Math.max(1, total)).toFixed(0)} %`;
    console.log(`Of the archiver's time: manager start ${part((s) => s.pre)}, plugin load ${part((s) => s.load)}, Archive ${part((s) => s.archive)}, `
      + `after Archive ${part((s) => s.post)}, between calls ${part((s) => s.gap ?? 0)}`);
  }
}

main();
