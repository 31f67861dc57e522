#!/usr/bin/env node
/*
 * s3rver 3.7.1 with the checks a real S3 makes and stock s3rver skips, so tests cannot pass against it by
 * accident: SigV4 signatures are verified (Authorization header and presigned URLs), anonymous requests
 * are refused, DeleteObjects must carry Content-MD5, and aws-chunked bodies (which s3rver would store with
 * their chunk framing) are rejected with a loud 400. And it survives its own races between puts and deletes under one
 * prefix (putObjectSafely, deleteObjectSafely). It reaches into s3rver's internals: keep the version pinned in package.json.
 *
 * node --openssl-legacy-provider s3rver-strict.cjs -d DIR [-a 127.0.0.1] [-p 0] [--key K --cert C]
 *      [--access-key AK --secret-key SK] [--service-endpoint localhost] [--bucket NAME]...
 * stdout: "s3rver (strict SigV4) listening on http(s)://ADDRESS:PORT"
 */
'use strict';

const fs = require('node:fs');
const crypto = require('node:crypto');
const { URLSearchParams } = require('node:url');
const S3rver = require('s3rver');
const S3Error = require('s3rver/lib/models/error');
const AWSAccount = require('s3rver/lib/models/account');
const FilesystemStore = require('s3rver/lib/stores/filesystem');
const { pipeline, Transform } = require('node:stream');
const path = require('node:path');

/**
 * s3rver's putObject creates the key's directories, then opens the file; its deleteObject removes directories
 * left empty. A delete of the last object under a prefix between those two steps of a concurrent put made the
 * open fail with ENOENT as an unhandled stream error, and the whole server died (concurrent wal-archive
 * processes, each putting and deleting a create-only probe beside the segments). Here the file is opened first,
 * the directories made again if they vanished, and the body piped with pipeline(): a failure fails the request.
 */
async function putObjectSafely(object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  let file;
  for (let attempt = 0; file === undefined; attempt++) {
    await fs.promises.mkdir(path.dirname(objectPath), { recursive: true });
    try {
      file = await fs.promises.open(objectPath, 'w');
    } catch (err) {
      if (err.code !== 'ENOENT' || attempt >= 10) throw err;
    }
  }
  const md5Context = crypto.createHash('md5');
  let size = 0;
  const body = Buffer.isBuffer(object.content) ? [object.content] : object.content;
  try {
    await new Promise((resolve, reject) => pipeline(body, new Transform({
      transform(chunk, encoding, callback) { md5Context.update(chunk); size += chunk.length; callback(null, chunk); },
    }), fs.createWriteStream('', { fd: file.fd, autoClose: false }), (err) => (err ? reject(err) : resolve())));
  } finally {
    await file.close();
  }
  const md5 = md5Context.digest('hex');
  await this.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size, md5 };
}
FilesystemStore.prototype.putObject = putObjectSafely;

/**
 * s3rver's deleteObject lists each directory before removing it; a concurrent put or delete under the same prefix
 * made that fail (ENOENT, ENOTEMPTY) as a 500 to a delete that had done its work. rmdir itself refuses a directory
 * that is not empty: the first one that is, or that is already gone, ends the cleanup.
 */
async function deleteObjectSafely(bucket, key) {
  await Promise.all(['object', 'object.md5', 'metadata.json'].map((resource) =>
    fs.promises.unlink(this.getResourcePath(bucket, key, resource)).catch((err) => { if (err.code !== 'ENOENT') throw err; })));
  const parts = key.split('/');
  parts.pop(); // the last part is the file name's
  for (; parts.length > 0; parts.pop()) {
    try {
      await fs.promises.rmdir(path.join(this.getBucketPath(bucket), ...parts));
    } catch (err) {
      if (err.code === 'ENOTEMPTY' || err.code === 'EEXIST' || err.code === 'ENOENT') return;
      throw err;
    }
  }
}
FilesystemStore.prototype.deleteObject = deleteObjectSafely;

function parseArgs(argv) {
  const o = { directory: undefined, address: '127.0.0.1', port: 0, buckets: [], accessKey: 'S3RVER', secretKey: 'S3RVER' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => { const x = argv[++i]; if (x === undefined) throw new Error(`${a} needs a value`); return x; };
    switch (a) {
      case '-d': case '--directory': o.directory = v(); break;
      case '-a': case '--address': o.address = v(); break;
      case '-p': case '--port': o.port = Number(v()); break;
      case '--key': o.key = v(); break;
      case '--cert': o.cert = v(); break;
      case '--access-key': o.accessKey = v(); break;
      case '--secret-key': o.secretKey = v(); break;
      case '--service-endpoint': o.serviceEndpoint = v(); break;
      case '--bucket': o.buckets.push(v()); break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (!o.directory) throw new Error('-d DIR is required');
  return o;
}

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
function uriEncode(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function hmac(key, data) { return crypto.createHmac('sha256', key).update(data, 'utf8').digest(); }
function sha256hex(data) { return crypto.createHash('sha256').update(data, 'utf8').digest('hex'); }

/** Canonical query string from the raw query: decode each pair, re-encode, sort by key then value. */
function canonicalQuery(rawQuery, skip) {
  if (!rawQuery) return '';
  const pairs = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = decodeURIComponent((eq < 0 ? part : part.slice(0, eq)).replace(/\+/g, '%20'));
    const val = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, '%20'));
    if (k === skip) continue;
    pairs.push([uriEncode(k), uriEncode(val)]);
  }
  pairs.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function headerValue(req, name) {
  const v = req.headers[name];
  if (v === undefined) return '';
  return (Array.isArray(v) ? v.join(',') : String(v)).trim().replace(/\s+/g, ' ');
}

function denied(code, message, detail) { return new S3Error(code, message, detail || {}); }

/** Throws an S3Error unless the request carries a valid SigV4 signature made with one of `keys`. */
function verifySigV4(req, keys) {
  const [rawPath, rawQuery = ''] = req.url.split(/\?(.*)/s);
  const query = new URLSearchParams(rawQuery);
  const auth = req.headers.authorization;
  let accessKeyId, scope, signedHeaders, signature, amzDate, payloadHash, skip;
  if (auth) {
    const m = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-f]+)$/i.exec(auth);
    if (!m) throw denied('AccessDenied', 'only AWS Signature Version 4 (AWS4-HMAC-SHA256) is accepted by this server');
    const cred = m[1].split('/');
    accessKeyId = cred[0];
    scope = cred.slice(1).join('/');
    signedHeaders = m[2];
    signature = m[3];
    amzDate = headerValue(req, 'x-amz-date');
    payloadHash = headerValue(req, 'x-amz-content-sha256') || 'UNSIGNED-PAYLOAD';
  } else if (query.get('X-Amz-Algorithm')) {
    if (query.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') throw denied('AccessDenied', 'unsupported presign algorithm');
    const cred = (query.get('X-Amz-Credential') || '').split('/');
    accessKeyId = cred[0];
    scope = cred.slice(1).join('/');
    signedHeaders = query.get('X-Amz-SignedHeaders') || 'host';
    signature = query.get('X-Amz-Signature') || '';
    amzDate = query.get('X-Amz-Date') || '';
    payloadHash = 'UNSIGNED-PAYLOAD';
    skip = 'X-Amz-Signature';
    const expires = Number(query.get('X-Amz-Expires') || '0');
    const t = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
    if (!Number.isFinite(t) || Date.now() > t + expires * 1000) throw denied('AccessDenied', 'Request has expired');
  } else {
    throw denied('AccessDenied', 'Anonymous requests are not accepted by this server (no SigV4 signature)');
  }
  const secret = keys.get(accessKeyId);
  if (secret === undefined) {
    throw denied('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: accessKeyId });
  }
  const names = signedHeaders.toLowerCase().split(';');
  const canonicalHeaders = names.map((n) => `${n}:${headerValue(req, n)}\n`).join('');
  const canonicalRequest = [req.method, rawPath, canonicalQuery(rawQuery, skip), canonicalHeaders, names.join(';'), payloadHash].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonicalRequest)].join('\n');
  const [date, region, service, terminator] = scope.split('/');
  let k = hmac(`AWS4${secret}`, date || '');
  k = hmac(k, region || '');
  k = hmac(k, service || '');
  k = hmac(k, terminator || '');
  const expected = crypto.createHmac('sha256', k).update(stringToSign, 'utf8').digest('hex');
  if (expected.length !== signature.length || !crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(signature.toLowerCase()))) {
    throw denied('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', { AWSAccessKeyId: accessKeyId });
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  fs.mkdirSync(o.directory, { recursive: true });
  const keys = new Map([[o.accessKey, o.secretKey]]);
  // s3rver's own (v2-only) check looks keys up in its account registry: register ours there too.
  if (o.accessKey !== 'S3RVER') AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
  AWSAccount.DUMMY_ACCOUNT.createKeyPair(o.accessKey, o.secretKey);

  const server = new S3rver({
    directory: o.directory, address: o.address, port: o.port, silent: true,
    ...(o.key ? { key: fs.readFileSync(o.key), cert: fs.readFileSync(o.cert) } : {}),
    ...(o.serviceEndpoint ? { serviceEndpoint: o.serviceEndpoint } : {}),
    configureBuckets: o.buckets.map((name) => ({ name })),
  });
  // Runs before s3rver's vhost rewrite and routes, on the request exactly as the client signed it.
  server.middleware.splice(1, 0, async function strict(ctx, next) {
    verifySigV4(ctx.req, keys);
    const encoding = String(ctx.get('content-encoding') || '');
    const sha = String(ctx.get('x-amz-content-sha256') || '');
    if (/aws-chunked/i.test(encoding) || /^STREAMING-/i.test(sha)) {
      throw new S3Error('InvalidRequest', 'aws-chunked / STREAMING-* payloads are not supported by this server (s3rver would store the chunk framing): use requestChecksumCalculation WHEN_REQUIRED');
    }
    // AWS (and MinIO, Ceph) refuse a DeleteObjects body without an integrity header; the AWS SDK v3 in
    // when_required mode sends none unless told to (aws-sdk-js-v3#6819). Be as strict as the strictest.
    if (ctx.method === 'POST' && 'delete' in ctx.query && !ctx.get('content-md5')) {
      throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5');
    }
    await next();
  });
  const addr = await server.run();
  const scheme = o.key ? 'https' : 'http';
  process.stdout.write(`s3rver (strict SigV4) listening on ${scheme}://${addr.address}:${addr.port}\n`);
  const stop = () => { server.close().finally(() => process.exit(0)); setTimeout(() => process.exit(0), 2000).unref(); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => { process.stderr.write(`s3rver-strict: ${err && err.stack || err}\n`); process.exit(1); });
