/**
 * Barman's include/exclude rules for PGDATA and tablespaces (barman/postgres_plumbing.py EXCLUDE_LIST,
 * PGDATA_EXCLUDE_LIST; matching as barman/fs.py path_allowed): rsync-like, a leading "/" anchors the rule
 * at the walked root, otherwise it matches any path suffix; "*" = no slash, "**" = anything, "?" = one
 * character; a trailing "/" only matches directories. Include rules win over exclude rules.
 */

/** Excluded from PGDATA only. */
export const PGDATA_EXCLUDE_LIST: readonly string[] = ['/pg_log/*', '/log/*', '/pg_xlog/*', '/pg_wal/*', '/global/pg_control'];

/** Excluded from PGDATA and tablespaces (PostgreSQL's excludeFiles / excludeDirContents). */
export const EXCLUDE_LIST: readonly string[] = [
  'pgsql_tmp*', 'postgresql.auto.conf.tmp', 'current_logfiles.tmp', 'pg_internal.init', 'postmaster.pid',
  'postmaster.opts', 'recovery.conf', 'standby.signal',
  'pg_dynshmem/*', 'pg_notify/*', 'pg_replslot/*', 'pg_serial/*', 'pg_stat_tmp/*', 'pg_snapshots/*', 'pg_subtrans/*',
];

interface CompiledRule { re: RegExp; suffixRe: RegExp | null; dirOnly: boolean }

export class PathRules {
  private readonly include: CompiledRule[];
  private readonly exclude: CompiledRule[];

  constructor(exclude: readonly string[], include: readonly string[] = []) {
    this.exclude = exclude.map(compile);
    this.include = include.map(compile);
  }

  /** `path` is relative to the walked root as the tar names it: ".", "./PG_VERSION", "base/1/112". */
  allowed(path: string, isDir: boolean): boolean {
    if (this.include.length > 0 && matches(this.include, path, isDir)) return true;
    if (this.exclude.length > 0 && matches(this.exclude, path, isDir)) return false;
    return true;
  }
}

/** Rules for PGDATA: Barman's lists plus the tablespace links and tablespaces located inside PGDATA. */
export function pgdataRules(pgdata: string, tablespaces: readonly { oid: number; location: string }[]): PathRules {
  const extra: string[] = [];
  for (const t of tablespaces) {
    if (t.location.startsWith(`${pgdata}/`)) extra.push(t.location.slice(pgdata.length));
    extra.push(`/pg_tblspc/${t.oid}`);
  }
  return new PathRules([...PGDATA_EXCLUDE_LIST, ...EXCLUDE_LIST, ...extra]);
}

/** Rules for a tablespace location: only the PG_<major>_* subtree (Barman cannot know the catalog version). */
export function tablespaceRules(majorVersion: string): PathRules {
  return new PathRules(['/*', ...EXCLUDE_LIST], [`/PG_${majorVersion}_*`]);
}

function matches(rules: readonly CompiledRule[], path: string, isDir: boolean): boolean {
  for (const r of rules) {
    if (r.dirOnly && !isDir) continue;
    if (r.re.test(path)) return true;
    if (r.suffixRe?.test(path)) return true;
  }
  return false;
}

function compile(rule: string): CompiledRule {
  let r = rule;
  let dirOnly = false;
  if (r.endsWith('/')) { dirOnly = true; r = r.slice(0, -1); }
  let anchored = false;
  if (r.startsWith('/')) { anchored = true; r = r.slice(1); }
  return { re: translate(r), suffixRe: anchored ? null : translate(`**/${r}`), dirOnly };
}

/** Barman's _translate_to_regexp: whole-string match; no character classes (brackets are literal). */
function translate(pattern: string): RegExp {
  let res = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (pattern.startsWith('**', i)) { res += '.*'; i++; }
    else if (c === '*') res += '[^/]*';
    else if (c === '?') res += '.';
    else res += c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
  }
  return new RegExp(`^${res}$`, 's');
}
