/**
 * CNPG's `*AdditionalCommandArgs` (wal.archiveAdditionalCommandArgs, wal.restoreAdditionalCommandArgs,
 * data.additionalCommandArgs, data.restoreAdditionalCommandArgs) appended to a command line with CNPG's rule
 * (barman-cloud appendAdditionalCommandArgs): an extra argument is dropped when its key (the part before "=")
 * is already among the arguments given, so the manifest can add flags but never override the command line.
 */
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
