'use strict';
/**
 * A GCS JSON API server for tests: the Firebase Storage emulator's pure-Node HTTP part (firebase-tools 15.34.2,
 * pinned: this reaches into its internals) without the Java rules runtime, every request treated as admin.
 * Added here: multi-chunk resumable uploads (Content-Range + 308), ifGenerationMatch=0 enforcement, and optional
 * auth: a required bearer token, an OAuth token endpoint that verifies the service-account JWT, and a GCE
 * metadata server. Blobs live under $TMPDIR (give each instance its own); they are removed on SIGTERM.
 *
 * node gcs-emulator.cjs [port] [--require-token T] [--readonly-token T] [--sa-key key.json] [--metadata-token T]
 *                       [--tls-cert cert.pem --tls-key key.pem] [--fail-chunk-every N] [--ignore-preconditions]
 * Prints "gcs emulator listening on http(s)://127.0.0.1:PORT".
 */
const path = require('node:path');
const crypto = require('node:crypto');
const fs = require('node:fs');
const express = require('express');
const { AsyncLocalStorage } = require('node:async_hooks');

const fb = path.join(__dirname, 'node_modules', 'firebase-tools', 'lib', 'emulator');
const { StorageEmulator } = require(path.join(fb, 'storage', 'index.js'));
const { createApp } = require(path.join(fb, 'storage', 'server.js'));
const { CloudStorageObjectMetadata } = require(path.join(fb, 'storage', 'metadata.js'));
const { EmulatorRegistry } = require(path.join(fb, 'registry.js'));

const argv = process.argv.slice(2);
const opt = (name) => { const i = argv.indexOf(name); return i >= 0 ? argv.splice(i, 2)[1] : undefined; };
const requireToken = opt('--require-token');
const readonlyToken = opt('--readonly-token');
const saKeyFile = opt('--sa-key');
const metadataToken = opt('--metadata-token') ?? requireToken;
const tlsCert = opt('--tls-cert');
const tlsKey = opt('--tls-key');
// Fault injection: every Nth chunk PUT carrying data is stored, then answered 503 (a response lost in transit).
const failChunkEvery = Number(opt('--fail-chunk-every') ?? 0);
let chunkPuts = 0;
// The stock Firebase emulator's behaviour: ifGenerationMatch=0 ignored (a later write replaces the object).
const ignoreIdx = argv.indexOf('--ignore-preconditions');
const ignorePreconditions = ignoreIdx >= 0 && argv.splice(ignoreIdx, 1).length > 0;
const port = Number(argv[0] ?? 0);
const projectId = 'pgstow-test';

const gcsError = (res, code, reason, message) =>
  res.status(code).json({ error: { code, message, errors: [{ domain: 'global', reason, message }] } });

async function main() {
  const emulator = new StorageEmulator({ projectId, host: '127.0.0.1', port, auto_download: false });
  const inner = await createApp(projectId, emulator); // never emulator.start(): that launches Java
  const { adminStorageLayer: layer, uploadService: uploads } = emulator;
  const app = express();
  app.disable('x-powered-by');

  // OAuth token endpoint for service-account keys whose token_uri points here: checks the JWT the SDK signed.
  app.post('/oauth2/token', express.urlencoded({ extended: false }), (req, res) => {
    const key = saKeyFile ? JSON.parse(fs.readFileSync(saKeyFile, 'utf8')) : undefined;
    const [h, p, s] = String(req.body.assertion ?? '').split('.');
    const ok = key && h && p && s && crypto.verify('RSA-SHA256', Buffer.from(`${h}.${p}`),
      crypto.createPublicKey(key.private_key), Buffer.from(s, 'base64url'))
      && JSON.parse(Buffer.from(p, 'base64url').toString()).iss === key.client_email;
    if (!ok) return res.status(400).json({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
    res.json({ access_token: requireToken, expires_in: 3600, token_type: 'Bearer' });
  });

  // GCE metadata server (GCE_METADATA_HOST=127.0.0.1:PORT), the GKE workload identity path.
  app.get('/computeMetadata/v1/*', (req, res) => {
    if (req.header('metadata-flavor') !== 'Google') return res.sendStatus(403);
    res.setHeader('Metadata-Flavor', 'Google');
    const p = req.path.slice('/computeMetadata/v1/'.length).replace(/\/$/, '');
    if (p === 'instance/service-accounts/default/token') {
      return res.json({ access_token: metadataToken, expires_in: 3600, token_type: 'Bearer' });
    }
    const values = { 'project/project-id': projectId, 'instance/service-accounts/default/email': 'pgstow@pgstow-test.iam.gserviceaccount.com',
      'universe/universe-domain': 'googleapis.com', instance: '' };
    if (p in values) return res.type('text/plain').send(values[p]);
    res.sendStatus(404);
  });

  app.use((req, res, next) => {
    if (!requireToken) return next();
    // As on GCS, a resumable session URI authorizes its own chunk uploads.
    if (req.method === 'PUT' && req.path.startsWith('/upload/') && typeof req.query.upload_id === 'string') return next();
    const auth = req.header('authorization');
    if (auth === `Bearer ${requireToken}`) return next();
    if (readonlyToken && auth === `Bearer ${readonlyToken}`) {
      return req.method === 'GET' ? next() : gcsError(res, 403, 'forbidden', 'pgstow-readonly does not have storage.objects.create access.');
    }
    gcsError(res, 401, 'authError', 'Invalid Credentials');
  });

  // kmsKeyName of uploads, reported back in object metadata as GCS does (the stock emulator drops it).
  const kmsKeys = new Map(); // bucket/name → key name; resumable: upload id → key name until finalized
  app.post('/upload/storage/v1/b/:bucketId/o', (req, res, next) => {
    const kms = req.query.kmsKeyName;
    if (typeof kms !== 'string') return next();
    const name = typeof req.query.name === 'string' ? req.query.name : req.body?.name;
    const set = res.header.bind(res);
    res.header = (k, v) => {
      if (String(k).toLowerCase() === 'location') kmsKeys.set(new URL(v).searchParams.get('upload_id'), kms);
      return set(k, v);
    };
    if (name) kmsKeys.set(`${req.params.bucketId}/${name}`, kms);
    next();
  });
  app.get(['/b/:bucketId/o/:objectId', '/storage/v1/b/:bucketId/o/:objectId'], (req, res, next) => {
    if (req.query.alt === 'media') return next();
    const json = res.json.bind(res);
    res.json = (body) => {
      const kms = kmsKeys.get(`${req.params.bucketId}/${req.params.objectId}`);
      return json(kms && body && res.statusCode === 200 ? { ...body, kmsKeyName: kms } : body);
    };
    next();
  });

  // A Range starting at or past the end is unsatisfiable (416), as on GCS; the stock emulator answers 200 with
  // the whole object, so a reader that reads until an empty range (Python's BlobReader: Barman 3.19) never ends.
  app.get(['/download/storage/v1/b/:bucketId/o/:objectId', '/b/:bucketId/o/:objectId', '/storage/v1/b/:bucketId/o/:objectId'], (req, res, next) => {
    const m = /^bytes=(\d+)-/.exec(String(req.headers.range ?? ''));
    const meta = m ? layer.getMetadata(req.params.bucketId, req.params.objectId) : undefined;
    if (!m || !meta || Number(m[1]) < meta.size) return next();
    res.status(416).header('Content-Range', `bytes */${meta.size}`);
    return gcsError(res, 416, 'requestedRangeNotSatisfiable', 'The requested range cannot be satisfied.');
  });

  // ifGenerationMatch=0 (create-if-absent), which the stock emulator ignores. Decided atomically, as on GCS: a
  // refusal before the body when the object exists, then again at the write itself, where the name stays claimed
  // from that check until the object is stored (the stock write awaits between its look and its write), so of two
  // concurrent create-only uploads of one name exactly one succeeds.
  const exists = (bucket, name) => layer.getMetadata(bucket, name) !== undefined;
  const conditionNotMet = (res) => gcsError(res, 412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.');
  const claimed = new Set(); // bucket/name of create-only writes being stored now
  const createOnlyWrite = new AsyncLocalStorage(); // { refused } of the one-shot create-only upload being handled
  const uploadObject = layer.uploadObject.bind(layer);
  layer.uploadObject = async (upload) => {
    const ctx = createOnlyWrite.getStore();
    if (!ctx) return uploadObject(upload);
    const key = `${upload.bucketId}/${upload.objectId}`;
    if (claimed.has(key) || exists(upload.bucketId, upload.objectId)) {
      ctx.refused = true; // answered 412 (res.json below); the stock handler wants metadata to answer with
      while (claimed.has(key)) await new Promise((r) => setTimeout(r, 5));
      return layer.getMetadata(upload.bucketId, upload.objectId);
    }
    claimed.add(key);
    try { return await uploadObject(upload); } finally { claimed.delete(key); }
  };
  const preconditions = new Map(); // resumable upload id → object must not exist at finalize
  app.post('/upload/storage/v1/b/:bucketId/o', (req, res, next) => {
    if (ignorePreconditions || req.query.ifGenerationMatch !== '0') return next();
    const name = typeof req.query.name === 'string' ? req.query.name : undefined;
    if (name && exists(req.params.bucketId, name)) return conditionNotMet(res);
    const set = res.header.bind(res);
    res.header = (k, v) => {
      if (String(k).toLowerCase() === 'location') preconditions.set(new URL(v).searchParams.get('upload_id'), true);
      return set(k, v);
    };
    const ctx = { refused: false };
    const json = res.json.bind(res);
    res.json = (body) => (ctx.refused ? (res.json = json, conditionNotMet(res)) : json(body));
    createOnlyWrite.run(ctx, next);
  });

  // Multi-chunk resumable uploads: "bytes A-B/*" appends (skipping bytes already received) and answers 308;
  // "bytes A-B/TOTAL" or "bytes */TOTAL" finalizes; "bytes */*" asks for the received range.
  app.put('/upload/storage/v1/b/:bucketId/o', express.raw({ type: () => true, limit: '200mb' }), async (req, res, next) => {
    const id = req.query.upload_id;
    if (typeof id !== 'string') return next();
    let upload;
    try { upload = uploads.getResumableUpload(id); } catch { return gcsError(res, 404, 'notFound', 'No such upload'); }
    if (upload.status === 'final') return res.json(new CloudStorageObjectMetadata(layer.getMetadata(upload.bucketId, upload.objectId)));
    if (upload.status !== 'active') return res.sendStatus(499);
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const m = /^bytes (?:(\d+)-(-?\d+)|\*)\/(\d+|\*)$/.exec(req.header('content-range') ?? '');
    const total = m ? (m[3] === '*' ? undefined : Number(m[3])) : upload.size + body.length;
    if (m?.[1] !== undefined) {
      const skip = upload.size - Number(m[1]);
      if (skip < 0) return gcsError(res, 400, 'invalid', `chunk starts at ${m[1]} but only ${upload.size} bytes were received`);
      if (body.length > skip) uploads.continueResumableUpload(id, body.subarray(skip));
      if (failChunkEvery > 0 && body.length > 0 && ++chunkPuts % failChunkEvery === 0) return gcsError(res, 503, 'backendError', 'injected failure');
    } else if (!m && body.length > 0) uploads.continueResumableUpload(id, body);
    if (total === undefined || upload.size < total) {
      if (upload.size > 0) res.setHeader('Range', `bytes=0-${upload.size - 1}`);
      return res.sendStatus(308);
    }
    const key = `${upload.bucketId}/${upload.objectId}`;
    const createOnly = preconditions.delete(id);
    if (createOnly && (claimed.has(key) || exists(upload.bucketId, upload.objectId))) {
      uploads.cancelResumableUpload(id);
      return conditionNotMet(res);
    }
    if (kmsKeys.has(id)) kmsKeys.set(key, kmsKeys.get(id));
    if (createOnly) claimed.add(key);
    try {
      const metadata = await layer.uploadObject(uploads.finalizeResumableUpload(id));
      res.json(new CloudStorageObjectMetadata(metadata));
    } catch (err) { next(err); } finally { if (createOnly) claimed.delete(key); }
  });

  app.use(inner);
  const server = (tlsCert && tlsKey
    ? require('node:https').createServer({ cert: fs.readFileSync(tlsCert), key: fs.readFileSync(tlsKey) }, app)
    : require('node:http').createServer(app)).listen(port, '127.0.0.1', () => {
    // Bucket and object metadata build self links from the registry's host and port.
    emulator.args.port = server.address().port;
    EmulatorRegistry.set('storage', emulator);
    process.stdout.write(`gcs emulator listening on ${tlsCert ? 'https' : 'http'}://127.0.0.1:${server.address().port}\n`);
  });
  const stop = () => {
    server.close();
    emulator._persistence.deleteAll().catch(() => undefined).finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => { process.stderr.write(`gcs emulator failed: ${err.stack ?? err}\n`); process.exit(1); });
