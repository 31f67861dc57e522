/**
 * Access tokens without google-auth-library (drivers/gcs/lean-token.ts), against a token endpoint served here on
 * 127.0.0.1 (it checks the JWT's RS256 signature with the key's public half, its claims, and counts requests) and an
 * emulator that refuses requests without that endpoint's token. A service-account key's whole WAL round (put, stat,
 * list, get, delete) loads no Google module and asks for one token; a token within 5 minutes of its expiry is
 * asked for again; a token endpoint that refuses the key hands over to the library, whose error is reported.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createPublicKey, verify } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { requireServer } from '../harness/test-env.js';
import { REPO_ROOT } from '../harness/postgres.js';
import { startGcsEmulator, type GcsEmulator } from '../harness/servers/gcs.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { TEST_BUCKET, uniquePrefix } from '../harness/stores.js';
import { writeServiceAccountKey } from './gcs-helpers.js';

const TOKEN = 'pgstow-lean-token';
const GCS_SCOPE = 'https://www.googleapis.com/auth/devstorage.read_write';

let emulator: GcsEmulator | undefined;
let server: http.Server | undefined;
let dir = '';
/** What the token endpoint answers: the lifetime it grants, or a refusal. */
let grant: { expiresIn: number } | 'refuse' = { expiresIn: 3600 };
let issued = 0;
let tokenUri = '';

/** RFC 7523 grant check: the form, the signature by `keyFile`'s key, issuer, audience, scope, lifetime. */
function validGrant(body: string, keyFile: string): boolean {
  const form = new URLSearchParams(body);
  if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return false;
  const [h, p, s] = (form.get('assertion') ?? '').split('.');
  if (!h || !p || !s) return false;
  const key = JSON.parse(fs.readFileSync(keyFile, 'utf8')) as { private_key: string; client_email: string };
  if (!verify('RSA-SHA256', Buffer.from(`${h}.${p}`), createPublicKey(key.private_key), Buffer.from(s, 'base64url'))) return false;
  const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: string };
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as { iss?: string; aud?: string; scope?: string; iat?: number; exp?: number };
  return header.alg === 'RS256' && claims.iss === key.client_email && claims.aud === tokenUri && claims.scope === GCS_SCOPE
    && typeof claims.iat === 'number' && claims.exp === claims.iat + 3600;
}

before(async () => {
  if (!requireServer(undefined, 'gcs')) return;
  dir = makeTempDir('gcs-lean-token');
  emulator = await startGcsEmulator({ requireToken: TOKEN, tmpDir: dir });
  const keyFile = path.join(dir, 'sa.json');
  server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { body += c; });
    req.on('end', () => {
      if (req.method !== 'POST' || grant === 'refuse' || !validGrant(body, keyFile)) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' }));
        return;
      }
      issued++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: TOKEN, expires_in: grant.expiresIn, token_type: 'Bearer' }));
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  tokenUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  fs.renameSync(writeServiceAccountKey(dir, 'pgstow-lean', tokenUri), keyFile);
});

after(async () => {
  server?.close();
  await emulator?.stop();
  if (dir) removeDir(dir);
});

type Round = { loaded: number; bytes: string; listed: number; failure?: string };

/**
 * Runs a WAL round in a fresh process with the key (not blocking this one: its token endpoint answers); what it
 * printed, with how many Google modules it loaded.
 */
async function walRound(rounds: number): Promise<Round> {
  const registry = path.join(REPO_ROOT, 'dist', 'src', 'storage', 'registry.js');
  const script = `
    import { createRequire } from 'node:module';
    const { openStore } = await import(${JSON.stringify(registry)});
    const { readAll } = await import(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'src', 'storage', 'object-store-helpers.js'))});
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => /google-cloud|google-auth-library|gaxios/.test(k)).length;
    const { store } = await openStore({ provider: 'google-cloud-storage', destinationUrl: 'gs://${TEST_BUCKET}/${uniquePrefix('lean-token')}',
      endpointUrl: ${JSON.stringify(emulator?.endpoint)}, credentials: { kind: 'gcs-key-file', file: ${JSON.stringify(path.join(dir, 'sa.json'))} } });
    try {
      let bytes = '', listed = 0;
      for (let i = 0; i < ${rounds}; i++) {
        await store.put('w/seg', Buffer.from('segment ' + i), { ifAbsent: false });
        await store.stat('w/seg');
        for await (const e of store.list('w/')) listed++;
        bytes = (await readAll(store, 'w/seg')).toString();
      }
      await store.delete(['w/seg']);
      console.log(JSON.stringify({ loaded: loaded(), bytes, listed }));
    } catch (err) {
      console.log(JSON.stringify({ loaded: loaded(), bytes: '', listed: 0, failure: err.code + ': ' + err.message }));
    }`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(stdout.trim()) as Round;
}

describe('gcs tokens without google-auth-library', () => {
  it('a service-account key: one signed grant serves a whole WAL round (put, stat, list, get, delete), no Google module loaded', async (t) => {
    if (!emulator) return t.skip('gcs not available');
    grant = { expiresIn: 3600 };
    issued = 0;
    const r = await walRound(3);
    assert.equal(r.failure, undefined);
    assert.deepEqual({ bytes: r.bytes, listed: r.listed }, { bytes: 'segment 2', listed: 3 });
    assert.equal(issued, 1, 'the token is kept while it is valid');
    assert.equal(r.loaded, 0, 'no Google module was loaded');
  });

  it('a token within 5 minutes of its expiry is asked for again (google-auth-library\'s margin)', async (t) => {
    if (!emulator) return t.skip('gcs not available');
    grant = { expiresIn: 200 };
    issued = 0;
    const r = await walRound(2);
    assert.equal(r.failure, undefined);
    assert.ok(issued >= 8, `each request asked for a fresh token (${issued} grants)`);
  });

  it('a token endpoint that refuses the key: the library takes over and its error is reported (InvalidCredentialsError)', async (t) => {
    if (!emulator) return t.skip('gcs not available');
    grant = 'refuse';
    const r = await walRound(1);
    assert.ok(r.loaded > 0, 'google-auth-library was loaded for the failing credential');
    assert.match(r.failure ?? '', /^ERR_INVALID_CREDENTIALS: cannot obtain a Google access token from service_account credentials .*pgstow-lean@/);
    assert.doesNotMatch(r.failure ?? '', new RegExp(TOKEN));
  });
});
