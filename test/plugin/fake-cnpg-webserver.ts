#!/usr/bin/env node
/**
 * Stands in for the instance manager's local web server (127.0.0.1:8010, a fixed port: it runs inside the
 * test's own network namespace) for CloudNativePG's `manager wal-archive` / `wal-restore`:
 *   GET  /cache/cluster                           → the Cluster JSON (file given on the command line, re-read per request)
 *   GET  /cache/<other>                           → 404 (cache miss, as for wal-restore-config without in-tree backup)
 *   POST /cluster/status/condition/wal/archive    → 200; the body ({"error": "..."}) is appended to the log file
 * Every request is logged as one JSON line to the log file.
 *   node fake-cnpg-webserver.js <cluster.json> <requests.log>
 */
import * as fs from 'node:fs';
import * as http from 'node:http';

const [clusterFile, logFile] = process.argv.slice(2) as [string, string];
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => { body += c.toString(); });
  req.on('end', () => {
    fs.appendFileSync(logFile, `${JSON.stringify({ method: req.method, url: req.url, body })}\n`);
    if (req.method === 'GET' && req.url === '/cache/cluster') {
      res.setHeader('content-type', 'application/json');
      res.end(fs.readFileSync(clusterFile));
      return;
    }
    if (req.method === 'POST' && req.url?.startsWith('/cluster/status/condition/wal/archive')) { res.end('{}'); return; }
    res.statusCode = 404;
    res.end();
  });
});
server.listen(8010, '127.0.0.1', () => process.stdout.write('listening on 127.0.0.1:8010\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
