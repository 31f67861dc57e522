import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { ProgressReporter, formatBytes, formatDuration } from '../../../src/cli/progress.js';
import { createLogger } from '../../../src/cli/logger.js';

function capture(): { stream: Writable & { columns?: number }; text: () => string } {
  let out = '';
  const stream = new Writable({ write(c: Buffer, _e, cb) { out += c.toString(); cb(); } }) as Writable & { columns?: number };
  return { stream, text: () => out };
}

test('terminal bar: percent, bytes, rate, ETA and file on one redrawn line; cleared at the end', () => {
  const c = capture();
  c.stream.columns = 200;
  const p = new ProgressReporter(c.stream, createLogger(c.stream, 'info'), 'bar', 0);
  p.update({ bytesRead: 50 * 1024 * 1024, totalEstimate: 100 * 1024 * 1024, member: 'base/5/16384', startedAt: Date.now() - 5000 });
  p.finish();
  const clear = '\r\u001b[K';
  assert.equal(c.text(), `${clear}[${'#'.repeat(12)}${'.'.repeat(12)}]  50% 50.0 MiB/100.0 MiB 10.0 MiB/s ETA 5s base/5/16384${clear}`);
});

test('log mode: one structured line per interval', () => {
  const c = capture();
  const p = new ProgressReporter(c.stream, createLogger(c.stream, 'info'), 'log', 0);
  p.update({ bytesRead: 1000, totalEstimate: undefined, member: 'global/1262', startedAt: Date.now() - 1000 });
  assert.match(c.text(), /INFO: progress bytes=1000 rate_bytes_per_second=\d+ file="global\/1262"\n$/);
  const quiet = capture();
  new ProgressReporter(quiet.stream, createLogger(quiet.stream, 'info'), 'off').update({ bytesRead: 1, totalEstimate: 2, member: 'x', startedAt: 0 });
  assert.equal(quiet.text(), '');
});

test('sizes and durations', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatDuration(59), '59s');
  assert.equal(formatDuration(125), '2m05s');
  assert.equal(formatDuration(3700), '1h01m');
});
