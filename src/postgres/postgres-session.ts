/**
 * One libpq-style session to the PostgreSQL server being backed up: server facts and the non-exclusive
 * backup API (pg_backup_start/stop from 15, pg_start_backup/pg_stop_backup(false) before), exactly the
 * queries barman-cloud-backup runs. The session stays open between start and stop, as the API requires.
 * `pg` is imported lazily so commands that never talk to PostgreSQL do not load it.
 */
import { ExitCode, PgstowError, errorMessage } from '../errors.js';
import type { PgConnectionConfig } from './connection-options.js';

/** Cannot connect, or a query failed: barman-cloud exits 1 for both. */
export class PostgresError extends PgstowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_POSTGRES', ExitCode.OPERATION, message, options);
  }
}
PostgresError.prototype.name = 'PostgresError';

export interface TablespaceInfo {
  name: string;
  oid: number;
  location: string;
}

export interface ServerInfo {
  /** server_version_num, e.g. 150018. */
  version: number;
  /** Major version as PostgreSQL names its tablespace directories ("15", or "9.6" style before 10). */
  majorVersion: string;
  systemid: string;
  dataDirectory: string;
  walSegmentSize: number;
  configFile: string | null;
  hbaFile: string | null;
  identFile: string | null;
  /** Files pulled in by include directives (other than config_file), or null without privileges. */
  includedFiles: string[] | null;
  tablespaces: TablespaceInfo[];
  inRecovery: boolean;
  dataChecksums: string | null;
}

export interface BackupStartResult {
  lsn: string;
  timeline: number;
  /** Python str(datetime) in the session time zone, as backup.info stores it. */
  time: string;
  epochMs: number;
}

export interface BackupStopResult extends BackupStartResult {
  /** The backup_label text to store as the last member of data.tar. */
  backupLabel: string;
}

interface PgClient {
  connect(): Promise<unknown>;
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'notice', listener: (msg: { message?: string; severity?: string }) => void): unknown;
}

/** Python's str(datetime) from PostgreSQL's to_char parts (microseconds omitted when 0). */
const TIME_SQL = (e: string): string =>
  `to_char(${e}, 'YYYY-MM-DD HH24:MI:SS') || CASE WHEN to_char(${e}, 'US') = '000000' THEN '' ELSE '.' || to_char(${e}, 'US') END || to_char(${e}, 'TZH:TZM')`;

export class PostgresSession {
  /** Why the connection broke (e.g. "terminating connection due to administrator command"), once it has. */
  private connectionError: Error | undefined;

  /** Backend pid, to terminate a query that will not return (pg_backup_stop waiting for archiving). */
  private pid: number | undefined;
  private active = 0;

  private constructor(private readonly client: PgClient, readonly describe: string, private readonly config: PgConnectionConfig, private version = 0) {}

  /**
   * `onNotice` receives the server's notices and warnings, e.g. pg_backup_stop's "still waiting for all
   * required WAL segments to be archived": the only sign that a backup hangs because archiving is broken.
   */
  static async connect(cfg: PgConnectionConfig, signal?: AbortSignal, onNotice?: (severity: string, message: string) => void): Promise<PostgresSession> {
    const { default: pg } = await import('pg');
    const { describe, ...config } = cfg;
    const client = new pg.Client(config as ConstructorParameters<typeof pg.Client>[0]) as unknown as PgClient;
    // An idle error (backend terminated, server restart) must not crash the process; the next query reports it.
    const holder: { session?: PostgresSession; early?: Error } = {};
    client.on('error', (err) => { if (holder.session) holder.session.connectionError ??= err; else holder.early ??= err; });
    if (onNotice) client.on('notice', (n) => onNotice(n.severity ?? 'NOTICE', n.message ?? ''));
    try {
      if (signal?.aborted) throw signal.reason;
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw new PostgresError(`cannot connect to PostgreSQL at ${describe}: ${errorMessage(err)}`, { cause: err });
    }
    const session = new PostgresSession(client, describe, cfg);
    session.connectionError = holder.early;
    holder.session = session;
    session.pid = Number((await session.one('SELECT pg_backend_pid() AS pid')).pid);
    return session;
  }

  private async rows(sql: string, values: unknown[] = []): Promise<Record<string, unknown>[]> {
    this.active++;
    try {
      return (await this.client.query(sql, values)).rows;
    } catch (err) {
      if (this.connectionError) {
        throw new PostgresError(`lost the connection to PostgreSQL at ${this.describe}: ${errorMessage(this.connectionError)}`, { cause: this.connectionError });
      }
      throw new PostgresError(`query failed on ${this.describe}: ${errorMessage(err)}`, { cause: err });
    } finally {
      this.active--;
    }
  }

  private async one(sql: string, values: unknown[] = []): Promise<Record<string, unknown>> {
    const r = await this.rows(sql, values);
    if (!r[0]) throw new PostgresError(`query returned no row on ${this.describe}: ${sql}`);
    return r[0];
  }

  async serverInfo(): Promise<ServerInfo> {
    const v = Number((await this.one('SHOW server_version_num')).server_version_num);
    this.version = v;
    if (v < 90600) throw new PgstowError('ERR_POSTGRES_VERSION', ExitCode.GENERAL, `PostgreSQL ${v} is not supported: barman-cloud-backup needs 9.6 or later`);
    const systemid = String((await this.one('SELECT system_identifier::text AS s FROM pg_control_system()')).s);
    const dataDirectory = String((await this.one('SHOW data_directory')).data_directory);
    const seg = await this.one("SELECT setting::bigint AS s, unit FROM pg_settings WHERE name = 'wal_segment_size'");
    let walSegmentSize = Number(seg.s);
    if (v < 110000) walSegmentSize *= Number((await this.one("SELECT setting::bigint AS s FROM pg_settings WHERE name = 'wal_block_size'")).s);
    const files: Record<string, string> = {};
    for (const r of await this.rows("SELECT name, setting FROM pg_settings WHERE name IN ('config_file', 'hba_file', 'ident_file')")) {
      files[String(r.name)] = String(r.setting);
    }
    let includedFiles: string[] | null;
    try {
      const inc = await this.client.query("SELECT DISTINCT sourcefile AS f FROM pg_settings WHERE sourcefile IS NOT NULL AND sourcefile NOT IN (SELECT setting FROM pg_settings WHERE name = 'config_file') ORDER BY 1");
      const list = inc.rows.map((r) => String(r.f));
      includedFiles = list.length > 0 ? list : null;
    } catch { includedFiles = null; }
    const tablespaces = (await this.rows("SELECT spcname, oid::bigint AS oid, pg_tablespace_location(oid) AS location FROM pg_tablespace WHERE pg_tablespace_location(oid) != '' ORDER BY oid"))
      .map((r) => ({ name: String(r.spcname), oid: Number(r.oid), location: String(r.location) }));
    const inRecovery = Boolean((await this.one('SELECT pg_is_in_recovery() AS r')).r);
    let dataChecksums: string | null;
    try { dataChecksums = String((await this.client.query('SHOW data_checksums')).rows[0]?.data_checksums ?? '') || null; } catch { dataChecksums = null; }
    const major = v >= 100000 ? String(Math.floor(v / 10000)) : `${Math.floor(v / 10000)}.${Math.floor(v / 100) % 100}`;
    return {
      version: v, majorVersion: major, systemid, dataDirectory, walSegmentSize,
      configFile: files.config_file ?? null, hbaFile: files.hba_file ?? null, identFile: files.ident_file ?? null,
      includedFiles, tablespaces, inRecovery, dataChecksums,
    };
  }

  /** pg_backup_start (non-exclusive). `label` = "Barman backup cloud <id>". */
  async startBackup(label: string, fast: boolean): Promise<BackupStartResult> {
    if (this.version >= 140000) await this.rows('SET idle_session_timeout TO 0');
    const fn = this.version >= 150000 ? 'pg_backup_start($1, $2)' : 'pg_start_backup($1, $2, false)';
    const r = await this.one(
      `SELECT location::text AS location, (SELECT timeline_id FROM pg_control_checkpoint()) AS timeline, ${TIME_SQL('now()')} AS ts, extract(epoch FROM now())::float8 AS epoch FROM ${fn} AS location`,
      [label, fast]);
    return { lsn: String(r.location), timeline: Number(r.timeline), time: String(r.ts), epochMs: Math.round(Number(r.epoch) * 1000) };
  }

  /** pg_backup_stop (waits for the end WAL to be archived), then pg_switch_wal on a primary. */
  async stopBackup(): Promise<BackupStopResult> {
    if (this.version >= 140000) await this.rows('RESET idle_session_timeout');
    const fn = this.version >= 150000 ? 'pg_backup_stop()' : 'pg_stop_backup(false)';
    const r = await this.one(
      `SELECT end_row.lsn::text AS location, (SELECT CASE WHEN pg_is_in_recovery() THEN min_recovery_end_timeline ELSE timeline_id END FROM pg_control_checkpoint(), pg_control_recovery()) AS timeline, end_row.labelfile AS backup_label, ${TIME_SQL('now()')} AS ts, extract(epoch FROM now())::float8 AS epoch FROM ${fn} AS end_row`);
    const stop: BackupStopResult = {
      lsn: String(r.location), timeline: Number(r.timeline), time: String(r.ts),
      epochMs: Math.round(Number(r.epoch) * 1000), backupLabel: String(r.backup_label),
    };
    const inRecovery = Boolean((await this.one('SELECT pg_is_in_recovery() AS r')).r);
    if (!inRecovery) await this.rows(this.version >= 100000 ? 'SELECT pg_switch_wal()' : 'SELECT pg_switch_xlog()');
    return stop;
  }

  /** Barman's restore point barman_<id>; skipped on a standby, errors ignored (as Barman does). */
  async createRestorePoint(name: string): Promise<boolean> {
    try {
      const inRecovery = Boolean((await this.one('SELECT pg_is_in_recovery() AS r')).r);
      if (inRecovery) return false;
      await this.client.query('SELECT pg_create_restore_point($1)', [name]);
      return true;
    } catch {
      return false;
    }
  }

  /** sum(pg_tablespace_size) — the progress bar's total; fails without privileges. */
  async clusterSize(): Promise<number | undefined> {
    const r = await this.client.query('SELECT sum(pg_tablespace_size(oid))::bigint AS s FROM pg_tablespace');
    const v = r.rows[0]?.s;
    return v === null || v === undefined ? undefined : Number(v);
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }

  /**
   * Ends the session now. A backend busy in a query (pg_backup_stop waiting for WAL archiving) does not
   * notice its client leave, so it is terminated from a second connection; its backup ends with it.
   */
  async abort(): Promise<void> {
    if (this.active > 0 && this.pid !== undefined) {
      const { default: pg } = await import('pg');
      const { describe: _describe, ...config } = this.config;
      void _describe;
      const killer = new pg.Client(config as ConstructorParameters<typeof pg.Client>[0]);
      killer.on('error', () => undefined);
      try {
        await killer.connect();
        await killer.query('SELECT pg_terminate_backend($1)', [this.pid]);
      } catch { /* best effort: the session end below still releases the client side */ } finally {
        await killer.end().catch(() => undefined);
      }
    }
    await this.close();
  }
}
