/**
 * Defect 2: behind a proxy that accepts connections and then forwards nothing, Azure never returned (even with
 * --read-timeout 5), GCS never returned at the default, S3 returned after 759 s (the read timeout per attempt,
 * 12 attempts), and GCS timeouts exited 4. Now every call has a bound, retries included (twice --read-timeout,
 * 120 s by default), and a hang, a stalled and a cut download each exit 2 naming the endpoint, with nothing
 * written where PostgreSQL looks.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli, type CliResult } from '../../harness/cli.js';
import { storeTarget, type StoreKind, type StoreTarget } from '../../harness/stores.js';
import { hostPort, startTcpProxy, type ProxyMode, type TcpProxy } from '../../harness/tcp-proxy.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { syntheticSegment } from '../../harness/wal-segments.js';
import { IDS, openTarget, seedBarmanCatalog, SERVER } from '../catalog/catalog-fixture.js';

const SEG = '000000010000000000000003';
const work = makeTempDir('hanging-store');
after(() => removeDir(work));
const figures: string[] = [];
after(() => { for (const f of figures) process.stdout.write(`# ${f}\n`); });

/** The same target reached through the proxy (S3 endpoint, Azure connection string, GCS emulator host). */
function throughProxy(target: StoreTarget, proxy: TcpProxy): StoreTarget {
  switch (target.kind) {
    case 'moto': case 's3rver': {
      const i = target.args.indexOf('--endpoint-url');
      return { ...target, args: target.args.map((a, j) => (j === i + 1 ? proxy.url() : a)) };
    }
    case 'azurite':
      return { ...target, env: { ...target.env, AZURE_STORAGE_CONNECTION_STRING: (target.env.AZURE_STORAGE_CONNECTION_STRING as string).replace(/BlobEndpoint=http:\/\/[^/;]+/, `BlobEndpoint=${proxy.url()}`) } };
    case 'gcs':
      return { ...target, env: { ...target.env, STORAGE_EMULATOR_HOST: proxy.url() } };
    default:
      throw new Error(`no proxy form for ${target.kind}`);
  }
}

function upstream(target: StoreTarget): { host: string; port: number } {
  if (target.kind === 'azurite') return hostPort(/BlobEndpoint=(http:\/\/[^/;]+)/.exec(target.env.AZURE_STORAGE_CONNECTION_STRING as string)?.[1] as string);
  if (target.kind === 'gcs') return hostPort(target.env.STORAGE_EMULATOR_HOST as string);
  return hostPort(target.args[target.args.indexOf('--endpoint-url') + 1] as string);
}

async function timed(prog: string, args: string[], env: Record<string, string>): Promise<CliResult & { seconds: number }> {
  const t0 = Date.now();
  const r = await runCli(prog, args, { env, timeoutMs: 400_000 });
  return { ...r, seconds: (Date.now() - t0) / 1000 };
}

function assertNetworkLine(r: CliResult, proxy: TcpProxy, what: string): void {
  assert.equal(r.code, 2, `${what}: exit ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n').filter((l) => !/^\(node:\d+\) \[DEP|^\(Use `node --trace/.test(l) && !/ WARNING /.test(l));
  assert.equal(lines.length, 1, `${what}: one line: ${r.stderr}`);
  assert.ok((lines[0] as string).includes(`127.0.0.1:${proxy.port}`), `${what}: names the endpoint: ${lines[0]}`);
}

const KINDS: StoreKind[] = ['moto', 'azurite', 'gcs'];

describe('a store that accepts connections and never answers', () => {
  for (const kind of KINDS) {
    it(`${kind}: every command exits 2 within its bound (--read-timeout 2 → 4 s), naming the endpoint`, async (t) => {
      const direct = storeTarget(t, kind, `hang-${kind}`);
      if (!direct) return;
      const s = await openTarget(direct);
      t.after(() => s.store.close());
      await seedBarmanCatalog(s);
      const proxy = await startTcpProxy(upstream(direct), { kind: 'hang' });
      t.after(() => proxy.close());
      const target = throughProxy(direct, proxy);
      const dir = path.join(work, `hang-${kind}`);
      fs.mkdirSync(dir);
      const wal = path.join(dir, SEG);
      fs.writeFileSync(wal, syntheticSegment(SEG));
      const common = [...target.args, '--read-timeout', '2'];
      const commands: Array<[string, string[]]> = [
        ['barman-cloud-wal-archive', [...common, target.url, SERVER, wal]],
        ['barman-cloud-wal-restore', [...common, target.url, SERVER, SEG, path.join(dir, 'restored')]],
        ['barman-cloud-check-wal-archive', [...common, target.url, SERVER]],
        ['barman-cloud-backup-list', [...common, target.url, SERVER]],
        ['barman-cloud-backup-delete', [...common, target.url, SERVER, '-r', 'REDUNDANCY 1']],
        ['barman-cloud-restore', [...common, target.url, SERVER, IDS[2], path.join(dir, 'pgdata')]],
      ];
      for (const [prog, args] of commands) {
        const r = await timed(prog, args, target.env);
        assertNetworkLine(r, proxy, prog);
        assert.match(r.stderr, /no answer from .* for 4 s/);
        assert.ok(r.seconds < 20, `${prog} took ${r.seconds} s`);
      }
      assert.equal(fs.existsSync(path.join(dir, 'restored')), false, 'nothing handed to PostgreSQL');
    });

    for (const mode of [{ kind: 'stall', afterBytes: 200_000 }, { kind: 'cut', afterBytes: 200_000 }] as ProxyMode[]) {
      it(`${kind}: a download that ${mode.kind === 'stall' ? 'stalls' : 'is cut'} mid-body: exit 2 naming the endpoint, nothing at %p`, async (t) => {
        const direct = storeTarget(t, kind, `${mode.kind}-${kind}`);
        if (!direct) return;
        const dir = path.join(work, `${mode.kind}-${kind}`);
        fs.mkdirSync(dir);
        const wal = path.join(dir, SEG);
        fs.writeFileSync(wal, syntheticSegment(SEG));
        assert.equal((await runCli('barman-cloud-wal-archive', [...direct.args, direct.url, 'srv', wal], { env: direct.env })).code, 0);
        const proxy = await startTcpProxy(upstream(direct), mode);
        t.after(() => proxy.close());
        const target = throughProxy(direct, proxy);
        const dest = path.join(dir, 'restored');
        const r = await timed('barman-cloud-wal-restore', [...target.args, '--read-timeout', '2', target.url, 'srv', SEG, dest], target.env);
        assertNetworkLine(r, proxy, `wal-restore (${mode.kind})`);
        assert.ok(r.seconds < 30, `took ${r.seconds} s`);
        assert.equal(fs.existsSync(dest), false);
      });
    }
  }

  it('with the defaults, the longest hang of a WAL command is bounded (120 s) on every provider', async (t) => {
    const runs = await Promise.all(KINDS.map(async (kind) => {
      const direct = storeTarget(t, kind, `hang-default-${kind}`);
      if (!direct) return undefined;
      const proxy = await startTcpProxy(upstream(direct), { kind: 'hang' });
      try {
        const target = throughProxy(direct, proxy);
        const r = await timed('barman-cloud-wal-restore', [...target.args, target.url, 'srv', SEG, path.join(work, `default-${kind}`)], target.env);
        assertNetworkLine(r, proxy, `${kind} with defaults`);
        return { kind, seconds: r.seconds };
      } finally {
        await proxy.close();
      }
    }));
    for (const r of runs) {
      if (!r) continue;
      figures.push(`longest hang with defaults, ${r.kind}: ${r.seconds.toFixed(1)} s (wal-restore, exit 2)`);
      assert.ok(r.seconds >= 119 && r.seconds < 135, `${r.kind}: ${r.seconds} s`);
    }
  });
});
