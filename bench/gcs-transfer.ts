/**
 * GCS driver transfer benchmark on the test emulator: uploads a one-shot stream of SIZE_MIB through chunked
 * resumable upload, downloads it, and reports MB/s and the process's peak RSS (memory must stay about two
 * chunks above the baseline, whatever the size). Not a test: numbers for docs/gcs.md.
 *
 *   npm run build && node dist/bench/gcs-transfer.js [SIZE_MIB=256] [CHUNK_MIB=16]
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { startGcsEmulator } from '../test/harness/servers/gcs.js';
import { openStoreFromEnv } from '../test/harness/store-options.js';

const sizeMiB = Number(process.argv[2] ?? 256);
const chunkMiB = Number(process.argv[3] ?? 16);
const size = sizeMiB * 1024 * 1024;
const block = randomBytes(1024 * 1024);

const mib = (n: number): string => (n / 1024 / 1024).toFixed(0);
const emulator = await startGcsEmulator();
try {
  const { store } = await openStoreFromEnv({
    provider: 'google-cloud-storage', destinationUrl: 'gs://pgstow-bench/b',
    env: { STORAGE_EMULATOR_HOST: emulator.endpoint }, gcs: { chunkSize: chunkMiB * 1024 * 1024 },
  });
  await store.put('warmup', Buffer.from('x'));
  const baseline = process.memoryUsage().rss;
  let produced = 0;
  const up = createHash('sha256');
  const source = new Readable({
    read() {
      if (produced >= size) { this.push(null); return; }
      produced += block.length;
      up.update(block);
      this.push(block);
    },
  });
  let peak = 0;
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
  let t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await store.put('big.bin', source);
  const upSecs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const upCpu = (cpu.user + cpu.system) / 1e6;
  const upPeak = Math.max(peak, process.memoryUsage().rss);
  peak = 0;
  t0 = performance.now();
  const down = createHash('sha256');
  let read = 0;
  for await (const c of await store.get('big.bin')) { down.update(c as Buffer); read += (c as Buffer).length; }
  const downSecs = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  if (read !== size || down.digest('hex') !== up.digest('hex')) throw new Error('read back differs');
  console.log(`size ${sizeMiB} MiB, chunk ${chunkMiB} MiB: upload ${(size / 1e6 / upSecs).toFixed(0)} MB/s (${upSecs.toFixed(2)} s, pgstow CPU ${upCpu.toFixed(2)} s), `
    + `download ${(size / 1e6 / downSecs).toFixed(0)} MB/s (${downSecs.toFixed(2)} s); RSS baseline ${mib(baseline)} MiB, `
    + `peak during upload ${mib(upPeak)} MiB (+${mib(upPeak - baseline)}), during download ${mib(Math.max(peak, 0))} MiB`);
  await store.delete(['big.bin', 'warmup']);
  await store.close();
} finally {
  await emulator.stop();
}
