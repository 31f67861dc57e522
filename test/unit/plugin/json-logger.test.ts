/** The plugin's JSON-lines logger: one object per line, levels, fields, redaction of registered secrets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createJsonLogger, parseLogLevel, SecretRegistry } from '../../../src/plugin/json-logger.js';

function sink(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({ write(c, _e, cb) { chunks.push(String(c)); cb(); } });
  return { stream, lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

test('lines are JSON with level, ts, logger, msg and fields; lower levels are dropped', () => {
  const s = sink();
  const log = createJsonLogger({ stream: s.stream, level: 'info', now: () => new Date('2026-12-01T00:00:00Z') });
  log.debug('hidden');
  log.info('archived', { wal: '000000010000000000000001', bytes: 16 });
  log.child({ rpc: 'WAL/Archive' }).warning('slow', { ms: 900 });
  assert.deepEqual(s.lines(), [
    { level: 'info', ts: '2026-12-01T00:00:00.000Z', logger: 'pgstow', msg: 'archived', wal: '000000010000000000000001', bytes: 16 },
    { level: 'warning', ts: '2026-12-01T00:00:00.000Z', logger: 'pgstow', msg: 'slow', rpc: 'WAL/Archive', ms: 900 },
  ]);
  assert.equal(log.enabled('debug'), false);
  assert.equal(log.enabled('error'), true);
});

test('registered secrets never reach a line, in the message or in fields', () => {
  const s = sink();
  const secrets = new SecretRegistry();
  const log = createJsonLogger({ stream: s.stream, level: 'trace', secrets });
  secrets.add(['S3CRET-KEY-VALUE']);
  log.child({ a: 'x' }).error('failed with S3CRET-KEY-VALUE', { detail: { nested: 'also S3CRET-KEY-VALUE' }, err: new Error('e S3CRET-KEY-VALUE') });
  const text = JSON.stringify(s.lines());
  assert.doesNotMatch(text, /S3CRET-KEY-VALUE/);
  assert.match(text, /failed with \*\*\*/);
});

test('log levels: the upstream names, warn as an alias, anything else refused', () => {
  assert.equal(parseLogLevel('trace'), 'trace');
  assert.equal(parseLogLevel('warn'), 'warning');
  assert.throws(() => parseLogLevel('verbose'), /invalid choice: 'verbose'/);
});
