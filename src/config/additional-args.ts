/**
 * CNPG's `*AdditionalCommandArgs` (wal.archiveAdditionalCommandArgs, wal.restoreAdditionalCommandArgs,
 * data.additionalCommandArgs, data.restoreAdditionalCommandArgs) appended to a command line with CNPG's rule
 * (barman-cloud appendAdditionalCommandArgs): an extra argument is dropped when its key (the part before "=")
 * is already among the arguments given, so the manifest can add flags but never override the command line.
 * Also the flags CNPG derives from wal/data/tags (cnpg-api §2.3), for commands that take them.
 */
import type { OptionSpec, ParsedArgs } from '../cli/args.js';
import type { ResolvedConfig } from './resolved-config.js';

/** The list that applies to a pgstow command name (wal-archive, wal-restore, backup, restore). */
export function additionalArgsFor(command: string, config: ResolvedConfig): readonly string[] {
  switch (command) {
    case 'wal-archive': return config.wal.archiveAdditionalCommandArgs;
    case 'wal-restore': return config.wal.restoreAdditionalCommandArgs;
    case 'backup': return config.data.additionalCommandArgs;
    case 'restore': return config.data.restoreAdditionalCommandArgs;
    default: return [];
  }
}

/** The extra arguments that survive CNPG's rule against `given`. */
export function filterAdditionalArgs(extra: readonly string[], given: readonly string[]): string[] {
  const keys = new Set(given.map((a) => a.split('=')[0]).filter((k) => k !== ''));
  const out: string[] = [];
  for (const arg of extra) {
    const key = arg.split('=')[0] ?? '';
    if (key === '' || given.includes(key) || keys.has(key)) continue;
    out.push(arg);
    keys.add(key);
  }
  return out;
}

const tagArgs = (flag: string, tags: Readonly<Record<string, string>>): string[][] =>
  Object.keys(tags).length > 0 ? [[flag, ...Object.entries(tags).map(([k, v]) => `${k},${v}`)]] : [];

/**
 * The options CNPG builds from the manifest for a command (one array per option: flag then values):
 * wal-archive: --<wal.compression>, --encryption, --tags, --history-tags, --max-parallel;
 * wal-restore: --max-parallel; backup: --<data.compression>, --encryption, --immediate-checkpoint, --jobs, --tags;
 * backup-delete: --retention-policy "RECOVERY WINDOW OF …".
 */
export function manifestOptionsFor(command: string, config: ResolvedConfig): string[][] {
  const out: string[][] = [];
  if (command === 'wal-archive') {
    if (config.wal.compression) out.push([`--${config.wal.compression}`]);
    if (config.wal.encryption) out.push(['--encryption', config.wal.encryption]);
    out.push(...tagArgs('--tags', config.tags), ...tagArgs('--history-tags', config.historyTags));
    if (config.wal.maxParallel > 1) out.push(['--max-parallel', String(config.wal.maxParallel)]);
  } else if (command === 'wal-restore') {
    if (config.wal.maxParallel > 1) out.push(['--max-parallel', String(config.wal.maxParallel)]);
  } else if (command === 'backup') {
    if (config.data.compression) out.push([`--${config.data.compression}`]);
    if (config.data.encryption) out.push(['--encryption', config.data.encryption]);
    if (config.data.immediateCheckpoint) out.push(['--immediate-checkpoint']);
    if (config.data.jobs !== undefined) out.push(['--jobs', String(config.data.jobs)]);
    out.push(...tagArgs('--tags', config.tags));
  } else if (command === 'backup-delete') {
    // CNPG runs barman-cloud-backup-delete with the manifest's policy; -b or -r on the command line win.
    if (config.retentionPolicy) out.push(['--retention-policy', config.retentionPolicy.barman]);
  }
  return out;
}

/**
 * The manifest options the command accepts and the user did not set (directly or through another option of
 * the same exclusive group, e.g. --bzip2 against the manifest's gzip), as argv in `--flag=value` form so list
 * options cannot swallow positionals.
 */
export function manifestArgv(units: readonly string[][], options: readonly OptionSpec[], given: ParsedArgs): string[] {
  const argv: string[] = [];
  for (const [flag, ...values] of units) {
    const o = options.find((x) => x.flags.includes(flag as string));
    if (!o || given.options[o.dest] !== undefined) continue;
    if (o.exclusiveGroup && options.some((x) => x.exclusiveGroup === o.exclusiveGroup && given.options[x.dest] !== undefined)) continue;
    if (values.length === 0) argv.push(flag as string);
    else for (const v of values) argv.push(`${flag as string}=${v}`);
  }
  return argv;
}
