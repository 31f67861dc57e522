/**
 * WAL cross-compatibility with both Barmans: each side restores what the other archived.
 * - barman-cloud 3.4 (Debian's barman-cli-cloud): every WAL compression 3.4 knows (none, gzip, bzip2, snappy),
 *   on S3 (moto, s3rver) and Azure; 3.4 has no GCS client in Debian.
 * - Barman 3.19.1 (PyPI, in the test venv; what plugin-barman-cloud ships): all seven (none, gzip, bzip2, xz,
 *   snappy, zstd, lz4) on S3 (moto, s3rver), Azure and GCS.
 *
 * Debian bookworm's python3-snappy 0.5.3 C extension raises SystemError in _crc32c on Python 3.11, so
 * barman's own --snappy fails there; the runner patches a pure-Python CRC32C into python-snappy's framing
 * module when (and only when) the C one is broken. Barman's code runs unchanged.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli, type CliResult } from '../harness/cli.js';
import { storeTarget, type StoreKind, type StoreTarget } from '../harness/stores.js';
import { makeTempDir } from '../harness/tmp.js';
import { mustNotSkip } from '../harness/test-env.js';
import { BARMAN_PYTHON, INSTALL_HINT, type BarmanVersion } from '../harness/peers.js';
import { syntheticSegment } from '../harness/wal-segments.js';

const BOOT = `
import sys
try:
    import snappy.snappy as framing
    try:
        # python-snappy 0.5 (Debian's, for 3.4) only; 0.7 (3.19's) has no _crc32c of its own.
        getattr(framing, '_crc32c', lambda b: 0)(b'x')
    except SystemError:
        _T = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            _T.append(c)
        def _crc32c(data):
            c = 0xFFFFFFFF
            for b in data:
                c = _T[(c ^ b) & 0xFF] ^ (c >> 8)
            return c ^ 0xFFFFFFFF
        framing._crc32c = _crc32c
except ImportError:
    pass
module = sys.argv[1]
sys.argv = sys.argv[1:]
if module == 'archive':
    from barman.clients.cloud_walarchive import main
else:
    from barman.clients.cloud_walrestore import main
main()
`;

function barmanAvailable(version: BarmanVersion): boolean {
  return spawnSync(BARMAN_PYTHON[version], ['-c', 'import barman.clients.cloud_walarchive, boto3']).status === 0;
}

function runBarman(version: BarmanVersion, which: 'archive' | 'restore', args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(BARMAN_PYTHON[version], ['-c', BOOT, which, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const name = (n: number): string => `0000000100000000${n.toString(16).toUpperCase().padStart(8, '0')}`;

/** A valid 1 MiB WAL segment (page headers, records with CRCs) for segment n. */
function segment(n: number): Buffer {
  return syntheticSegment(name(n), { seed: n });
}
const CODECS_34: Array<[string, string[]]> = [['none', []], ['gzip', ['-z']], ['bzip2', ['-j']], ['snappy', ['--snappy']]];
const CODECS_319: Array<[string, string[]]> = [...CODECS_34, ['xz', ['--xz']], ['zstd', ['--zstd']], ['lz4', ['--lz4']]];
const MATRIX: Array<{ version: BarmanVersion; kinds: StoreKind[]; codecs: Array<[string, string[]]> }> = [
  { version: '3.4', kinds: ['moto', 's3rver', 'azurite'], codecs: CODECS_34 },
  { version: '3.19', kinds: ['moto', 's3rver', 'azurite', 'gcs'], codecs: CODECS_319 },
];

for (const { version, kinds, codecs } of MATRIX) for (const kind of kinds) {
  describe(`barman-cloud ${version} WAL cross-compatibility on ${kind}`, () => {
    it(`each side restores what the other archived, for ${codecs.map(([c]) => c).join('/')}`, async (t) => {
      if (!barmanAvailable(version)) {
        const msg = `barman-cloud ${version} is not installed (${INSTALL_HINT})`;
        if (mustNotSkip()) throw new Error(msg);
        t.skip(msg);
        return;
      }
      const target: StoreTarget | undefined = storeTarget(t, kind, `barman-${version}-compat-${kind}`);
      if (!target) return;
      const dir = makeTempDir(`barman-${version}-compat-${kind}`);
      let n = 0;
      for (const [codec, flags] of codecs) {
        // barman archives → pgstow restores
        const a = name(++n);
        fs.writeFileSync(path.join(dir, a), segment(n));
        const ba = await runBarman(version, 'archive', [...flags, ...target.args, target.url, 'srv', path.join(dir, a)], target.env);
        assert.equal(ba.code, 0, `barman-cloud-wal-archive ${codec}: ${ba.stderr}`);
        const ours = path.join(dir, `${a}.pgstow`);
        const pr = await runCli('barman-cloud-wal-restore', [...target.args, target.url, 'srv', a, ours], { env: target.env });
        assert.equal(pr.code, 0, `pgstow restores barman's ${codec}: ${pr.stderr}`);
        assert.ok(fs.readFileSync(ours).equals(segment(n)), `pgstow reads barman ${codec}`);

        // pgstow archives → barman restores
        const b = name(++n);
        fs.writeFileSync(path.join(dir, b), segment(n));
        const pa = await runCli('barman-cloud-wal-archive', [...flags, ...target.args, target.url, 'srv', path.join(dir, b)], { env: target.env });
        assert.equal(pa.code, 0, `pgstow archive ${codec}: ${pa.stderr}`);
        const theirs = path.join(dir, `${b}.barman`);
        const br = await runBarman(version, 'restore', [...target.args, target.url, 'srv', b, theirs], target.env);
        assert.equal(br.code, 0, `barman restores pgstow's ${codec}: ${br.stderr}`);
        assert.ok(fs.readFileSync(theirs).equals(segment(n)), `barman reads pgstow ${codec}`);
      }
      // Both agree on "not found" (exit 1).
      const missing = name(0x99);
      assert.equal((await runBarman(version, 'restore', [...target.args, target.url, 'srv', missing, path.join(dir, 'm1')], target.env)).code, 1);
      assert.equal((await runCli('barman-cloud-wal-restore', [...target.args, target.url, 'srv', missing, path.join(dir, 'm2')], { env: target.env })).code, 1);
    });
  });
}
