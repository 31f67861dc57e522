/**
 * Where a process's resident memory is, from /proc (Linux): RSS split into anonymous memory (heaps, buffers,
 * V8) and file-backed pages (the node binary's code and read-only data, shared libraries), sampled while a
 * command runs. GNU time's maximum RSS says how much; this says what it is.
 */
import * as fs from 'node:fs';

export interface MemorySplit {
  rssMb: number;
  anonMb: number;
  fileMb: number;
}

export function readMemorySplit(pid: number | 'self'): MemorySplit | undefined {
  let text: string;
  try { text = fs.readFileSync(`/proc/${pid}/status`, 'utf8'); } catch { return undefined; }
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, anonMb: kb('RssAnon') / 1024, fileMb: kb('RssFile') / 1024 };
}

/** The deepest first descendant of `pid` (GNU time → runuser → the command). */
function leaf(pid: number): number {
  for (let depth = 0; depth < 4; depth++) {
    let children: string;
    try { children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim(); } catch { return pid; }
    const first = Number(children.split(/\s+/)[0]);
    if (!first) return pid;
    pid = first;
  }
  return pid;
}

/** Samples the command under `pid` every `everyMs`; stop() returns the sample of highest RSS. */
export function samplePeak(pid: number, everyMs = 50): { stop: () => MemorySplit | undefined } {
  let peak: MemorySplit | undefined;
  const timer = setInterval(() => {
    const s = readMemorySplit(leaf(pid));
    if (s && Number.isFinite(s.rssMb) && (!peak || s.rssMb > peak.rssMb)) peak = s;
  }, everyMs);
  return { stop: () => { clearInterval(timer); return peak; } };
}
