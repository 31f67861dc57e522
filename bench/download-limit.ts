/**
 * The store's download limit on this machine: how fast the server hands out one object's bytes to the client
 * that costs least, each variant a process of its own timed by /usr/bin/time (wall, CPU, peak RSS):
 *   curl, one GET → /dev/null          curl, 4 ranged GETs of 8 MiB at once → /dev/null     curl, one GET → a file
 *   node:http, one GET, discarded      node:http, 4 ranged GETs of 8 MiB at once, discarded
 * A local s3rver runs on the same cores as the client, so the limit is what the server can serve while the
 * client spends next to nothing: a client that spends more CPU per byte (the SDK, a restore) takes it from the
 * server. The best of the variants is the limit the restore rows are compared with (one plain SDK stream was
 * beaten by Barman 3.19's restore: it measured the SDK, not the store).
 *   node dist/bench/download-limit.js --child ENDPOINT KEYID SECRET REGION BUCKET KEY SIZE STREAMS   (internal)
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { s3Signer, escapeUri } from '../src/storage/drivers/s3/signer.js';
import { timed } from './lib/measure.js';
import type { S3ServerInfo } from '../test/harness/test-env.js';

export interface LimitRun { what: string; mbPerSecond: number; cpuSeconds: number; maxRssKb: number }

const MiB = 1024 * 1024;
const RANGE = 8 * MiB;
const STREAMS = 4;

type Sign = (range?: { start: number; end: number }) => Promise<{ url: string; headers: Record<string, string> }>;

function signerFor(endpoint: string, keys: { accessKeyId: string; secretAccessKey: string }, region: string, bucket: string, key: string): Sign {
  const e = new URL(endpoint);
  const sign = s3Signer(() => keys, region);
  const p = `/${bucket}/${key.split('/').map(escapeUri).join('/')}`;
  return async (range) => {
    const signed = await sign({ method: 'GET', protocol: e.protocol, hostname: e.hostname, port: Number(e.port), path: p, query: {},
      headers: { host: e.host, ...(range ? { range: `bytes=${range.start}-${range.end}` } : {}) } });
    return { url: `${e.protocol}//${e.host}${p}`, headers: signed.headers };
  };
}

const ranges = (size: number): Array<{ start: number; end: number }> =>
  Array.from({ length: Math.ceil(size / RANGE) }, (_, i) => ({ start: i * RANGE, end: Math.min(size, (i + 1) * RANGE) - 1 }));

const curlHeaders = (h: Record<string, string>): string[] => Object.entries(h).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);

/** Every variant once, in the order given (the caller interleaves them with its own runs). */
export async function downloadLimitRuns(s3: S3ServerInfo, bucket: string, key: string, size: number, tmp: string): Promise<LimitRun[]> {
  const sign = signerFor(s3.endpoint, s3, s3.region, bucket, key);
  const out: LimitRun[] = [];
  const run = async (what: string, cmd: string, args: string[]): Promise<void> => {
    const r = await timed(cmd, args);
    out.push({ what, mbPerSecond: size / 1e6 / r.wallSeconds, cpuSeconds: r.cpuSeconds, maxRssKb: r.maxRssKb });
  };
  const one = await sign();
  await run('curl, one GET → /dev/null', 'curl', ['-sf', '-o', '/dev/null', ...curlHeaders(one.headers), one.url]);
  const parts: string[] = [];
  for (const r of ranges(size)) {
    const s = await sign(r);
    if (parts.length) parts.push('--next');
    parts.push('-sf', '-o', '/dev/null', ...curlHeaders(s.headers), s.url);
  }
  await run(`curl, ${STREAMS} ranged GETs of ${RANGE / MiB} MiB at once → /dev/null`, 'curl', ['-Z', '--parallel-max', String(STREAMS), ...parts]);
  const file = path.join(tmp, 'download-limit.tar');
  const disk = await sign();
  await run('curl, one GET → a file', 'curl', ['-sf', '-o', file, ...curlHeaders(disk.headers), disk.url]);
  fs.rmSync(file, { force: true });
  const self = fileURLToPath(import.meta.url);
  const child = [self, '--child', s3.endpoint, s3.accessKeyId, s3.secretAccessKey, s3.region, bucket, key, String(size)];
  await run('node:http, one GET, discarded', process.execPath, [...child, '1']);
  await run(`node:http, ${STREAMS} ranged GETs of ${RANGE / MiB} MiB at once, discarded`, process.execPath, [...child, String(STREAMS)]);
  return out;
}

/** GETs (one, or ranges `streams` at a time) whose bytes are counted and dropped. */
async function child(argv: string[]): Promise<void> {
  const [endpoint, accessKeyId, secretAccessKey, region, bucket, key, sizeText, streamsText] = argv as [string, string, string, string, string, string, string, string];
  const size = Number(sizeText);
  const streams = Number(streamsText);
  const sign = signerFor(endpoint, { accessKeyId, secretAccessKey }, region, bucket, key);
  const agent = new http.Agent({ keepAlive: true, maxSockets: streams });
  const get = async (range?: { start: number; end: number }): Promise<number> => {
    const s = await sign(range);
    return new Promise((resolve, reject) => {
      http.get(s.url, { headers: s.headers, agent }, (res) => {
        if ((res.statusCode ?? 0) >= 300) { reject(new Error(`HTTP ${res.statusCode}`)); res.resume(); return; }
        let n = 0;
        res.on('data', (c: Buffer) => { n += c.length; });
        res.on('end', () => resolve(n));
        res.on('error', reject);
      }).on('error', reject);
    });
  };
  let got = 0;
  if (streams <= 1) got = await get();
  else {
    const todo = ranges(size);
    await Promise.all(Array.from({ length: streams }, async () => {
      for (let r = todo.shift(); r; r = todo.shift()) { const n = await get(r); got += n; }
    }));
  }
  agent.destroy();
  if (got !== size) throw new Error(`downloaded ${got} of ${size} bytes`);
}

if (process.argv[2] === '--child') await child(process.argv.slice(3));
