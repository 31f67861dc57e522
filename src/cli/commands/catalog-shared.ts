/** Pieces shared by the catalog commands (backup-list/show/delete/keep, check-wal-archive). */
import type { OptionSpec, PositionalSpec } from '../args.js';
import type { ParsedArgs } from '../args.js';
import type { CommandContext } from '../command.js';
import { composeStore, type ComposedStore } from '../../app/compose.js';

export const SOURCE_POSITIONALS: readonly PositionalSpec[] = [
  { name: 'sourceUrl', help: 'URL of the cloud source, such as a bucket in AWS S3. For example: s3://bucket/path/to/folder' },
  { name: 'serverName', help: 'the name of the server as configured in Barman' },
];

export const DESTINATION_POSITIONALS: readonly PositionalSpec[] = [
  { name: 'destinationUrl', help: 'URL of the cloud destination, such as a bucket in AWS S3. For example: s3://bucket/path/to/folder' },
  { name: 'serverName', help: 'the name of the server as configured in Barman' },
];

export const FORMAT_OPTION: OptionSpec = {
  dest: 'format', flags: ['--format'], type: 'string', metavar: 'FORMAT',
  help: "output format: 'console' (default) or 'json' (Barman: anything other than console is json)",
};

export function isJson(args: ParsedArgs): boolean {
  const f = args.options.format as string | undefined;
  return f !== undefined && f !== 'console';
}

/** Opens the store, runs `fn`, always closes. With -t/--test only checks that the store answers a listing. */
export async function withStore(args: ParsedArgs, ctx: CommandContext, fn: (s: ComposedStore) => Promise<number | void>): Promise<number | void> {
  const composed = await composeStore(args, ctx);
  try {
    if (args.options.test) {
      for await (const entry of composed.store.list(composed.layout.serverPrefix, { delimiter: '/', signal: ctx.signal })) { void entry; break; }
      return 0;
    }
    return await fn(composed);
  } finally {
    await composed.store.close();
  }
}

export function write(ctx: CommandContext, text: string): void {
  ctx.stdout.write(text);
}

/** Python-like left padding by code points for pgstow tables. */
export function pad(s: string, n: number): string {
  const len = [...s].length;
  return len >= n ? s : s + ' '.repeat(n - len);
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}
