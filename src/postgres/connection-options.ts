/**
 * libpq-compatible connection settings for the backup connection, as barman-cloud-backup builds them:
 * `-d` holding a conninfo string (empty or containing "=") is used verbatim, otherwise -h/-p/-U/-d; then the
 * libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGPASSFILE, PGDATABASE, PGSSLMODE, PGSSLROOTCERT,
 * PGSSLCERT, PGSSLKEY, PGCONNECT_TIMEOUT, PGAPPNAME) fills what is missing. Pure: no I/O except reading
 * the SSL files named by the settings and probing the default socket directory (asynchronously).
 */
import { promises as fsp } from 'node:fs';
import { userInfo } from 'node:os';
import * as path from 'node:path';
import { UsageError } from '../errors.js';

export interface ConnectionArgs {
  host?: string;
  port?: string;
  user?: string;
  /** Database name or a conninfo string (keyword=value pairs or a postgresql:// URI). */
  dbname?: string;
}

/** What the `pg` client needs (a subset of pg.ClientConfig, kept here so nothing else imports pg types). */
export interface PgConnectionConfig {
  host: string;
  port: number;
  user: string;
  database: string;
  password?: string;
  application_name: string;
  ssl?: false | { rejectUnauthorized: boolean; ca?: string; cert?: string; key?: string; checkServerIdentity?: () => undefined };
  connectionTimeoutMillis?: number;
  /** For messages: host:port/db as user, never the password. */
  describe: string;
}

export const BACKUP_APPLICATION_NAME = 'barman_cloud_backup';

/** Parses libpq keyword/value conninfo (`host=a port=5432 password='x y'`). */
export function parseConninfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  const n = text.length;
  const skipWs = (): void => { while (i < n && /\s/.test(text[i] as string)) i++; };
  for (;;) {
    skipWs();
    if (i >= n) break;
    let key = '';
    while (i < n && /[A-Za-z0-9_]/.test(text[i] as string)) key += text[i++];
    skipWs();
    // The text is never echoed: it may hold a password.
    if (!key || text[i] !== '=') throw new UsageError(`invalid connection string: expected "keyword=value" at character ${i + 1}`);
    i++;
    skipWs();
    let value = '';
    if (text[i] === "'") {
      i++;
      for (;;) {
        if (i >= n) throw new UsageError('invalid connection string: unterminated quoted value');
        const c = text[i++] as string;
        if (c === '\\' && i < n) { value += text[i++]; continue; }
        if (c === "'") break;
        value += c;
      }
    } else {
      while (i < n && !/\s/.test(text[i] as string)) {
        const c = text[i++] as string;
        if (c === '\\' && i < n) { value += text[i++]; continue; }
        value += c;
      }
    }
    out[key] = value;
  }
  return out;
}

/** Parses a postgresql:// URI into libpq keywords. */
function parseUri(text: string): Record<string, string> {
  let url: URL;
  try { url = new URL(text); } catch { throw new UsageError('invalid connection URI (not printed: it may hold a password)'); }
  const out: Record<string, string> = {};
  if (url.hostname) out.host = decodeURIComponent(url.hostname.replace(/^\[|\]$/g, ''));
  if (url.port) out.port = url.port;
  if (url.username) out.user = decodeURIComponent(url.username);
  if (url.password) out.password = decodeURIComponent(url.password);
  const db = url.pathname.replace(/^\//, '');
  if (db) out.dbname = decodeURIComponent(db);
  for (const [k, v] of url.searchParams) out[k] = v;
  return out;
}

async function defaultSocketDir(port: number): Promise<string> {
  for (const dir of ['/var/run/postgresql', '/tmp']) {
    if (await fsp.access(path.join(dir, `.s.PGSQL.${port}`)).then(() => true, () => false)) return dir;
  }
  return 'localhost';
}

export async function resolveConnection(args: ConnectionArgs, env: Readonly<Record<string, string | undefined>>): Promise<PgConnectionConfig> {
  let kv: Record<string, string> = {};
  const dbArg = args.dbname;
  // libpq: a dbname that is empty, holds "=" or starts with postgresql:// or postgres:// is a whole conninfo.
  const isUri = dbArg !== undefined && /^postgres(ql)?:\/\//i.test(dbArg);
  if (dbArg !== undefined && (dbArg === '' || dbArg.includes('=') || isUri)) {
    kv = isUri ? parseUri(dbArg) : parseConninfo(dbArg);
  } else {
    if (args.host) kv.host = args.host;
    if (args.port) kv.port = args.port;
    if (args.user) kv.user = args.user;
    kv.dbname = dbArg ?? 'postgres';
  }
  const pick = (k: string, e: string): string | undefined => kv[k] ?? (env[e] || undefined);
  const portText = pick('port', 'PGPORT') ?? '5432';
  const port = Number(portText);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new UsageError(`invalid PostgreSQL port "${portText}"`);
  // libpq takes the first host of a comma-separated list here; multi-host failover is not needed for a backup.
  const host = (pick('host', 'PGHOST') ?? pick('hostaddr', 'PGHOSTADDR') ?? await defaultSocketDir(port)).split(',')[0] as string;
  const user = pick('user', 'PGUSER') ?? safeUserName();
  const database = pick('dbname', 'PGDATABASE') ?? user;
  const cfg: PgConnectionConfig = {
    host, port, user, database,
    application_name: kv.application_name ?? BACKUP_APPLICATION_NAME,
    describe: `${host}:${port} database "${database}" as "${user}"`,
  };
  const password = pick('password', 'PGPASSWORD');
  if (password !== undefined) cfg.password = password;
  const timeout = pick('connect_timeout', 'PGCONNECT_TIMEOUT');
  if (timeout && Number(timeout) > 0) cfg.connectionTimeoutMillis = Number(timeout) * 1000;
  const sslmode = pick('sslmode', 'PGSSLMODE') ?? (host.startsWith('/') ? 'disable' : 'prefer');
  const readPem = async (k: string, e: string): Promise<string | undefined> => {
    const file = pick(k, e);
    if (!file) return undefined;
    try { return await fsp.readFile(file, 'utf8'); } catch (err) {
      throw new UsageError(`cannot read ${k} file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  switch (sslmode) {
    case 'disable': case 'allow': case 'prefer':
      // node-postgres cannot fall back from SSL to plain as libpq's "prefer" does; plain is what "prefer"
      // ends up as on a server without SSL, and on loopback/socket connections.
      cfg.ssl = false;
      break;
    case 'require': case 'verify-ca': case 'verify-full': {
      const ssl: NonNullable<Exclude<PgConnectionConfig['ssl'], false>> = { rejectUnauthorized: sslmode !== 'require' };
      const ca = await readPem('sslrootcert', 'PGSSLROOTCERT');
      const cert = await readPem('sslcert', 'PGSSLCERT');
      const key = await readPem('sslkey', 'PGSSLKEY');
      if (ca) ssl.ca = ca;
      if (cert) ssl.cert = cert;
      if (key) ssl.key = key;
      if (sslmode === 'verify-ca') ssl.checkServerIdentity = () => undefined;
      cfg.ssl = ssl;
      break;
    }
    default:
      throw new UsageError(`invalid sslmode "${sslmode}"`);
  }
  return cfg;
}

function safeUserName(): string {
  try { return userInfo().username; } catch { return 'postgres'; }
}
