/**
 * Progress of a long copy on stderr: a redrawn one-line bar on a terminal (bytes, rate, ETA, current file),
 * otherwise a structured log line every `intervalMs` (for CloudNativePG/journald logs).
 */
import type { Writable } from 'node:stream';
import type { Logger } from '../logger.js';

export interface ProgressState {
  bytesRead: number;
  totalEstimate: number | undefined;
  member: string;
  startedAt: number;
}

export class ProgressReporter {
  private last = 0;
  private drawn = false;

  constructor(private readonly stream: Writable & { isTTY?: boolean; columns?: number }, private readonly log: Logger,
    private readonly mode: 'bar' | 'log' | 'off', private readonly intervalMs = mode === 'bar' ? 200 : 10_000) {}

  update(p: ProgressState): void {
    const now = Date.now();
    if (this.mode === 'off' || now - this.last < this.intervalMs) return;
    this.last = now;
    const elapsed = Math.max(0.001, (now - p.startedAt) / 1000);
    const rate = p.bytesRead / elapsed;
    const pct = p.totalEstimate ? Math.min(100, (100 * p.bytesRead) / p.totalEstimate) : undefined;
    const eta = p.totalEstimate && rate > 0 ? Math.max(0, (p.totalEstimate - p.bytesRead) / rate) : undefined;
    if (this.mode === 'bar') {
      const width = 24;
      const filled = pct === undefined ? 0 : Math.round((pct / 100) * width);
      const bar = pct === undefined ? '' : `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct.toFixed(0).padStart(3)}% `;
      let line = `${bar}${formatBytes(p.bytesRead)}${p.totalEstimate ? `/${formatBytes(p.totalEstimate)}` : ''} ${formatBytes(rate)}/s${eta !== undefined ? ` ETA ${formatDuration(eta)}` : ''} ${p.member}`;
      const cols = this.stream.columns ?? 100;
      if (line.length > cols - 1) line = line.slice(0, cols - 1);
      this.stream.write(`\r\x1b[K${line}`);
      this.drawn = true;
    } else {
      this.log.info(`progress bytes=${p.bytesRead}${p.totalEstimate ? ` total_estimate=${p.totalEstimate} percent=${pct?.toFixed(1)}` : ''} rate_bytes_per_second=${Math.round(rate)}${eta !== undefined ? ` eta_seconds=${Math.round(eta)}` : ''} file=${JSON.stringify(p.member)}`);
    }
  }

  /** Clears the bar before other output. */
  finish(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
