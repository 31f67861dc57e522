/**
 * Defect 2: behind a proxy that accepts connections and then forwards nothing, Azure never returned (even with
 * --read-timeout 5), GCS never returned at the default, S3 returned after 759 s (the read timeout per attempt,
 * 12 attempts), and GCS timeouts exited 4. Now every call has a bound, retries included (twice --read-timeout,
 * 120 s by default). A hang exits 2 naming the endpoint; a download that stalls or is cut mid-body exits 4, as
 * Barman's does for a body that breaks off, naming the object and the endpoint; nothing is written where
 * PostgreSQL looks. Every barman-cloud-* command is run against the hanging store, the base backup
 * included (PostgreSQL answers, the store does not).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli, type CliResult } from '../../harness/cli.js';
import { storeTarget, type StoreKind, type StoreTarget } from '../../harness/stores.js';
import { hostPort, startTcpProxy, type ProxyMode, type TcpProxy } from '../../harness/tcp-proxy.js';
import { startPostgres, type PostgresServer } from '../../harness/postgres.js';
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

function assertNetworkLine(r: CliResult, proxy: TcpProxy, what: string, exit = 2): void {
  assert.equal(r.code, exit, `${what}: exit ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n').filter((l) => !/^\(node:\d+\) (\[DEP|MaxListenersExceededWarning)|^\(Use `node --trace/.test(l) && !/ WARNING /.test(l));
  assert.equal(lines.length, 1, `${what}: one line: ${r.stderr}`);
  assert.ok((lines[0] as string).includes(`127.0.0.1:${proxy.port}`), `${what}: names the endpoint: ${lines[0]}`);
}

const KINDS: StoreKind[] = ['moto', 'azurite', 'gcs'];

/** Every barman-cloud-* command against `target` (the seeded Barman catalog; the backup from PostgreSQL at `pgPort`). */
function hangCommands(target: StoreTarget, dir: string, extra: string[], pgPort: number): Array<[string, string[]]> {
  const wal = path.join(dir, SEG);
  fs.writeFileSync(wal, syntheticSegment(SEG));
  const common = [...target.args, ...extra];
  return [
    ['barman-cloud-wal-archive', [...common, target.url, SERVER, wal]],
    ['barman-cloud-wal-restore', [...common, target.url, SERVER, SEG, path.join(dir, 'restored')]],
    ['barman-cloud-check-wal-archive', [...common, target.url, SERVER]],
    ['barman-cloud-backup-list', [...common, target.url, SERVER]],
    ['barman-cloud-backup-delete', [...common, target.url, SERVER, '-r', 'REDUNDANCY 1']],
    ['barman-cloud-restore', [...common, target.url, SERVER, IDS[2], path.join(dir, 'pgdata')]],
    ['barman-cloud-backup-show', [...common, target.url, SERVER, IDS[2]]],
    ['barman-cloud-backup-keep', [...common, target.url, SERVER, IDS[2], '--target', 'full']],
    ['barman-cloud-backup', [...common, '-h', '127.0.0.1', '-p', String(pgPort), '-U', 'postgres', target.url, SERVER]],
  ];
}

describe('a store that accepts connections and never answers', () => {
  // For barman-cloud-backup: PostgreSQL answers, the store does not.
  let pg: PostgresServer | undefined;
  before(async () => { pg = await startPostgres({ settings: { archive_mode: 'off' } }); });
  after(async () => { await pg?.destroy(); });

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
      const commands = hangCommands(target, dir, ['--read-timeout', '2'], (pg as PostgresServer).port);
      let longest = { prog: '', seconds: 0 };
      for (const [prog, args] of commands) {
        const r = await timed(prog, args, target.env);
        assertNetworkLine(r, proxy, prog);
        assert.match(r.stderr, /no answer from .* for 4 s/);
        assert.ok(r.seconds < 20, `${prog} took ${r.seconds} s`);
        if (r.seconds > longest.seconds) longest = { prog, seconds: r.seconds };
      }
      figures.push(`longest hang of ${commands.length} commands at --read-timeout 2 (bound 4 s), ${kind}: ${longest.seconds.toFixed(1)} s (${longest.prog}, exit 2)`);
      assert.equal(fs.existsSync(path.join(dir, 'restored')), false, 'nothing handed to PostgreSQL');
    });

    for (const mode of [{ kind: 'stall', afterBytes: 200_000 }, { kind: 'cut', afterBytes: 200_000 }] as ProxyMode[]) {
      it(`${kind}: a download that ${mode.kind === 'stall' ? 'stalls' : 'is cut'} mid-body: exit 4 as Barman, naming the object and the endpoint, nothing at %p`, async (t) => {
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
        // Barman exits 4 for a body that breaks off (botocore's streaming errors are not connectivity failures).
        assertNetworkLine(r, proxy, `wal-restore (${mode.kind})`, 4);
        assert.match(r.stderr, new RegExp(`downloading \\S+/srv/wals/0000000100000000/${SEG} failed after \\d+ bytes`));
        assert.ok(r.seconds < 30, `took ${r.seconds} s`);
        assert.equal(fs.existsSync(dest), false);
      });
    }
  }

  it('with the defaults, every command gives up within its bound (120 s) on every provider', async (t) => {
    // The commands only wait: all of them at once, on each provider.
    const runs = await Promise.all(KINDS.map(async (kind) => {
      const direct = storeTarget(t, kind, `hang-default-${kind}`);
      if (!direct) return [];
      const s = await openTarget(direct);
      await seedBarmanCatalog(s).finally(() => s.store.close());
      const proxy = await startTcpProxy(upstream(direct), { kind: 'hang' });
      try {
        const target = throughProxy(direct, proxy);
        const dir = path.join(work, `default-${kind}`);
        fs.mkdirSync(dir);
        return await Promise.all(hangCommands(target, dir, [], (pg as PostgresServer).port).map(async ([prog, args]) => {
          const r = await timed(prog, args, target.env);
          assertNetworkLine(r, proxy, `${kind} ${prog} with defaults`);
          return { kind, prog, seconds: r.seconds };
        }));
      } finally {
        await proxy.close();
      }
    }));
    for (const perKind of runs) {
      const longest = perKind.reduce((a, b) => (b.seconds > a.seconds ? b : a), perKind[0] as { kind: string; prog: string; seconds: number });
      if (!longest) continue;
      figures.push(`longest hang with defaults, ${longest.kind}: ${longest.seconds.toFixed(1)} s (${longest.prog}; ${perKind.length} commands, each exit 2 naming the endpoint)`);
      for (const r of perKind) assert.ok(r.seconds >= 119 && r.seconds < 140, `${r.kind} ${r.prog}: ${r.seconds} s`);
    }
  });
});
