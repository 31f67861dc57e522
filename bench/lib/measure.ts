/** Runs a command under GNU time and reports wall seconds, CPU seconds and peak RSS; plus small statistics. */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface RunResult {
  code: number;
  wallSeconds: number;
  cpuSeconds: number;
  /** The user and system parts of cpuSeconds. */
  userSeconds?: number;
  sysSeconds?: number;
  maxRssKb: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Run as this OS user (via runuser) — PostgreSQL tools refuse root. */
  asUser?: string;
  timeoutMs?: number;
  /** Called with the pid of the process started (GNU time, whose child is the command). */
  onSpawn?: (pid: number) => void;
}

const TIME = '/usr/bin/time';

/** Runs `cmd args…` under /usr/bin/time -f; throws if the command fails (benchmarks never count failures). */
export async function timed(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const timeFile = path.join(os.tmpdir(), `pgstow-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  let argv = [TIME, '-f', '%e %U %S %M', '-o', timeFile, cmd, ...args];
  if (options.asUser) argv = ['runuser', '-u', options.asUser, '--', ...argv];
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...options.env })) if (v !== undefined) env[k] = v;
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-20000); });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30 * 60_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }); });
  });
  let wall = NaN, user = NaN, sys = NaN, rss = NaN;
  try {
    const line = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop() ?? '';
    [wall, user, sys, rss] = line.split(/\s+/).map(Number) as [number, number, number, number];
  } catch { /* the time file is missing only if the command could not start */ }
  fs.rmSync(timeFile, { force: true });
  const result = { code: r.code, wallSeconds: wall, cpuSeconds: user + sys, userSeconds: user, sysSeconds: sys, maxRssKb: rss, stdout: r.stdout, stderr: r.stderr };
  if (r.code !== 0) {
    throw new Error(`benchmark command failed (exit ${r.code}): ${cmd} ${args.join(' ')}\n${r.stderr.slice(-3000)}`);
  }
  return result;
}

export interface Stats {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function stats(values: readonly number[]): Stats {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
  return { median, min: v[0] as number, max: v[v.length - 1] as number, n: v.length };
}

/** "12.3 (11.9–13.0)" */
export function fmt(s: Stats, digits = 1): string {
  if (!Number.isFinite(s.median)) return 'n/a';
  if (s.n === 1 || s.min === s.max) return s.median.toFixed(digits);
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
}

export function dirSize(dir: string): number {
  let total = 0;
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) total += fs.statSync(p).size;
    }
  };
  walk(dir);
  return total;
}

/** A copy of `xs` in a random order (Fisher–Yates): interleaved A/B runs order their builds anew each repetition. */
export function shuffled<T>(xs: readonly T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}
