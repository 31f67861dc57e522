/**
 * A probe for a measured pgstow process (`NODE_OPTIONS=--import <dist>/bench/lib/upload-trace-probe.js`, with
 * PGSTOW_TRACE_FILE naming where to write): every HTTP request the process makes (start, body written, response
 * headers, response end), its garbage collections and its event loop's utilization every 100 ms, as JSON written
 * at exit. It changes nothing in the process; it only listens (node:diagnostics_channel, perf_hooks).
 * `node dist/bench/lib/upload-trace-probe.js --report FILE` prints a timeline summary of such a file.
 */
import * as dc from 'node:diagnostics_channel';
import * as fs from 'node:fs';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { performance, PerformanceObserver } from 'node:perf_hooks';

interface RequestTrace { method: string; path: string; start: number; sent?: number; headers?: number; end?: number; status?: number; bytes: number }
interface Trace { origin: number; exit: number; requests: RequestTrace[]; gc: { at: number; ms: number; kind: number }[]; elu: { at: number; u: number }[] }

function probe(file: string): void {
  const trace: Trace = { origin: performance.timeOrigin, exit: 0, requests: [], gc: [], elu: [] };
  const now = (): number => performance.now();
  dc.subscribe('http.client.request.start', (msg) => {
    const req = (msg as { request: ClientRequest }).request;
    const t: RequestTrace = { method: req.method, path: req.path.replace(/uploadId=[^&]*/, 'uploadId=…'), start: now(), bytes: 0 };
    trace.requests.push(t);
    const len = Number(req.getHeader('content-length') ?? 0);
    t.bytes = Number.isFinite(len) ? len : 0;
    req.once('finish', () => { t.sent = now(); });
    req.once('response', (res: IncomingMessage) => {
      t.headers = now();
      t.status = res.statusCode ?? 0;
      res.once('end', () => { t.end = now(); });
    });
  });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) trace.gc.push({ at: e.startTime, ms: e.duration, kind: (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0 });
  }).observe({ entryTypes: ['gc'] });
  let last = performance.eventLoopUtilization();
  setInterval(() => {
    const cur = performance.eventLoopUtilization();
    trace.elu.push({ at: now(), u: performance.eventLoopUtilization(cur, last).utilization });
    last = cur;
  }, 100).unref();
  process.once('exit', () => {
    trace.exit = now();
    fs.writeFileSync(file, JSON.stringify(trace));
  });
}

/** Parts on the wire over time, idle gaps between them, and where the process's time went. */
function report(file: string): void {
  const t = JSON.parse(fs.readFileSync(file, 'utf8')) as Trace;
  const parts = t.requests.filter((r) => r.method === 'PUT' && /partNumber=/.test(r.path));
  const f = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  const first = parts[0];
  const last = parts.at(-1);
  console.log(`process ${f(t.exit)}; ${t.requests.length} requests, ${parts.length} UploadPart`);
  if (first && last) {
    const span = (last.end ?? last.start) - first.start;
    const mb = parts.reduce((n, p) => n + p.bytes, 0) / 1e6;
    console.log(`parts from ${f(first.start)} to ${f(last.end ?? 0)}: ${f(span)}, ${mb.toFixed(0)} MB, ${(mb / (span / 1000)).toFixed(1)} MB/s while parts moved`);
    const q = (xs: number[]): string => {
      const v = [...xs].sort((a, b) => a - b);
      const at = (p: number): number => v[Math.min(v.length - 1, Math.floor(p * v.length))] ?? NaN;
      return `median ${at(0.5).toFixed(1)} ms (p10 ${at(0.1).toFixed(1)}, p90 ${at(0.9).toFixed(1)}, max ${at(1).toFixed(1)})`;
    };
    console.log(`per part: body written ${q(parts.map((p) => (p.sent ?? p.start) - p.start))}`);
    console.log(`          body written → response ${q(parts.map((p) => (p.headers ?? 0) - (p.sent ?? p.start)))}`);
    console.log(`          whole request ${q(parts.map((p) => (p.end ?? 0) - p.start))}`);
    // Time with no part on the wire, between the first part's start and the last one's end.
    const edges = parts.flatMap((p) => [[p.start, 1], [p.end ?? p.start, -1]] as const).sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    let open = 0;
    let since = first.start;
    const byOpen = new Map<number, number>();
    for (const [at, d] of edges) {
      byOpen.set(open, (byOpen.get(open) ?? 0) + (at - since));
      open += d;
      since = at;
    }
    console.log(`parts open at once (share of the span): ${[...byOpen].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}: ${(100 * v / span).toFixed(0)} %`).join(', ')}`);
  }
  const others = t.requests.filter((r) => !parts.includes(r));
  for (const r of others) console.log(`  ${r.method} ${r.path.slice(0, 90)} at ${f(r.start)} took ${((r.end ?? r.headers ?? r.start) - r.start).toFixed(0)} ms`);
  const gcMs = t.gc.reduce((n, g) => n + g.ms, 0);
  console.log(`gc: ${t.gc.length} collections, ${gcMs.toFixed(0)} ms (major ${t.gc.filter((g) => g.kind === 4).length})`);
  const busy = t.elu.reduce((n, e) => n + e.u, 0) / Math.max(1, t.elu.length);
  console.log(`event loop utilization: mean ${(100 * busy).toFixed(0)} %`);
}

const traceFile = process.env.PGSTOW_TRACE_FILE;
const i = process.argv.indexOf('--report');
if (i > 0 && process.argv[i + 1]) report(process.argv[i + 1] as string);
else if (traceFile) probe(`${traceFile}.${process.pid}.json`);
