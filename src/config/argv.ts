/**
 * A small argparse-compatible option parser. barman-cloud uses Python argparse, including options that take
 * one-or-more values (`--tags k,v k2,v2`), counted flags (-vv) and `--opt=value`; node:util parseArgs cannot
 * express the first, so commands declare their options here and get Barman's behaviour and --help text.
 * It sits in config/ beside the option table: CloudNativePG's additional command args are parsed with it too.
 */
import { UsageError } from '../errors.js';

export type OptionType = 'flag' | 'count' | 'string' | 'int' | 'number' | 'list' | 'multi';

export interface OptionSpec {
  /** Key in ParsedArgs.options (camelCase). */
  dest: string;
  /** e.g. ['-z', '--gzip']. */
  flags: readonly string[];
  /**
   * flag: boolean; count: number of occurrences; string/int/number: one value (last wins);
   * list: one or more values after the flag (argparse nargs='+', accumulates across repeats);
   * multi: one value per occurrence, repeatable (argparse action='append').
   */
  type: OptionType;
  help: string;
  metavar?: string;
  choices?: readonly string[];
  /** Hidden from --help (deprecated aliases). */
  hidden?: boolean;
  /** Options in the same group are mutually exclusive. */
  exclusiveGroup?: string;
}

export interface PositionalSpec {
  name: string;
  help: string;
  optional?: boolean;
  /** Collects the remaining positionals. */
  variadic?: boolean;
}

export interface CommandSpec {
  /** Program name shown in usage (e.g. barman-cloud-wal-archive or "pgstow wal-archive"). */
  name: string;
  summary: string;
  positionals: readonly PositionalSpec[];
  options: readonly OptionSpec[];
  /** Extra text after the options (exit codes, examples). */
  epilog?: string;
}

export interface ParsedArgs {
  options: Record<string, unknown>;
  positionals: Record<string, string | string[] | undefined>;
}

export function parseArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const byFlag = new Map<string, OptionSpec>();
  for (const o of spec.options) for (const f of o.flags) byFlag.set(f, o);
  const options: Record<string, unknown> = {};
  const seenGroup = new Map<string, string>();
  const rest: string[] = [];
  let args = [...argv];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') { rest.push(...args.slice(i + 1)); break; }
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) { rest.push(arg); continue; }
    let flag = arg;
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) { flag = arg.slice(0, eq); inline = arg.slice(eq + 1); }
    else if (!arg.startsWith('--') && arg.length > 2 && !byFlag.has(arg)) {
      // -vv, -zJ4 style bundles: expand the first short flag and keep the rest.
      const first = byFlag.get(arg.slice(0, 2));
      if (first && (first.type === 'flag' || first.type === 'count')) {
        args = [...args.slice(0, i), arg.slice(0, 2), `-${arg.slice(2)}`, ...args.slice(i + 1)];
        i--;
        continue;
      }
      if (first) { flag = arg.slice(0, 2); inline = arg.slice(2); }
    }
    const o = byFlag.get(flag) ?? matchPrefix(byFlag, flag);
    if (!o) throw new UsageError(`unrecognized arguments: ${arg}`);
    checkExclusive(spec, o, seenGroup);
    i = applyOption(o, flag, inline, args, i, options);
  }
  return { options, positionals: assignPositionals(spec, rest) };
}

/** Options in one exclusive group: the second one given is an error, as argparse says it. */
function checkExclusive(spec: CommandSpec, o: OptionSpec, seenGroup: Map<string, string>): void {
  if (!o.exclusiveGroup) return;
  const other = seenGroup.get(o.exclusiveGroup);
  if (other && other !== o.dest) {
    const otherFlag = spec.options.find((x) => x.dest === other)?.flags.at(-1);
    throw new UsageError(`argument ${o.flags.at(-1)}: not allowed with argument ${otherFlag}`);
  }
  seenGroup.set(o.exclusiveGroup, o.dest);
}

/** Stores option `o` given as `flag` at args[i] (value inline or following); returns the index of the last argument used. */
function applyOption(o: OptionSpec, flag: string, inline: string | undefined, args: readonly string[], i: number, options: Record<string, unknown>): number {
  if (o.type === 'flag') {
    if (inline !== undefined) throw new UsageError(`argument ${flag}: ignored explicit argument '${inline}'`);
    options[o.dest] = true;
    return i;
  }
  if (o.type === 'count') { options[o.dest] = ((options[o.dest] as number | undefined) ?? 0) + 1; return i; }
  if (inline !== undefined) { takeValue(o, flag, inline, options); return i; }
  if (o.type === 'list') {
    let n = 0;
    while (i + 1 < args.length && !(args[i + 1] as string).startsWith('-')) { takeValue(o, flag, args[++i] as string, options); n++; }
    if (n === 0) throw new UsageError(`argument ${flag}: expected at least one argument`);
    return i;
  }
  const next = args[i + 1];
  if (next === undefined || (next.startsWith('-') && next !== '-' && !/^-\d/.test(next))) throw new UsageError(`argument ${flag}: expected one argument`);
  takeValue(o, flag, next, options);
  return i + 1;
}

function takeValue(o: OptionSpec, flag: string, value: string, options: Record<string, unknown>): void {
  if (o.choices && !o.choices.includes(value)) {
    throw new UsageError(`argument ${o.flags.join('/')}: invalid choice: '${value}' (choose from ${o.choices.map((c) => `'${c}'`).join(', ')})`);
  }
  switch (o.type) {
    case 'int': {
      if (!/^[+-]?\d+$/.test(value)) throw new UsageError(`argument ${flag}: invalid int value: '${value}'`);
      options[o.dest] = parseInt(value, 10);
      break;
    }
    case 'number': {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`argument ${flag}: invalid number: '${value}'`);
      options[o.dest] = n;
      break;
    }
    case 'multi':
    case 'list':
      (options[o.dest] as string[] | undefined ?? (options[o.dest] = [] as string[]) as string[]).push(value);
      break;
    default:
      options[o.dest] = value;
  }
}

function assignPositionals(spec: CommandSpec, rest: readonly string[]): Record<string, string | string[] | undefined> {
  const positionals: Record<string, string | string[] | undefined> = {};
  let idx = 0;
  for (const p of spec.positionals) {
    if (p.variadic) { positionals[p.name] = rest.slice(idx); idx = rest.length; continue; }
    const v = rest[idx];
    if (v === undefined) {
      if (!p.optional) {
        const missing = spec.positionals.slice(spec.positionals.indexOf(p)).filter((x) => !x.optional).map((x) => x.name);
        throw new UsageError(`the following arguments are required: ${missing.join(', ')}`);
      }
    } else {
      positionals[p.name] = v;
      idx++;
    }
  }
  if (idx < rest.length) throw new UsageError(`unrecognized arguments: ${rest.slice(idx).join(' ')}`);
  return positionals;
}

/** argparse accepts unambiguous prefixes of long options (--endpoint for --endpoint-url). */
function matchPrefix(byFlag: Map<string, OptionSpec>, flag: string): OptionSpec | undefined {
  if (!flag.startsWith('--') || flag.length < 4) return undefined;
  const hits = new Set<OptionSpec>();
  for (const [f, o] of byFlag) if (f.startsWith(flag)) hits.add(o);
  if (hits.size > 1) throw new UsageError(`ambiguous option: ${flag} could match ${[...hits].map((o) => o.flags.at(-1)).join(', ')}`);
  return hits.values().next().value;
}

export function formatHelp(spec: CommandSpec): string {
  const lines: string[] = [];
  const pos = spec.positionals.map((p) => (p.optional ? `[${p.name}]` : p.name)).join(' ');
  lines.push(`usage: ${spec.name} [options] ${pos}`.trimEnd(), '', spec.summary, '');
  if (spec.positionals.length) {
    lines.push('positional arguments:');
    for (const p of spec.positionals) lines.push(`  ${p.name.padEnd(28)}${p.help}`);
    lines.push('');
  }
  lines.push('options:');
  for (const o of spec.options) {
    if (o.hidden) continue;
    const meta = o.type === 'flag' || o.type === 'count' ? '' : ` ${o.metavar ?? (o.choices ? `{${o.choices.join(',')}}` : o.dest.toUpperCase())}${o.type === 'list' ? ' ...' : ''}`;
    const head = `  ${o.flags.join(', ')}${meta}`;
    lines.push(head.length < 30 ? `${head.padEnd(30)}${o.help}` : `${head}\n${' '.repeat(30)}${o.help}`);
  }
  if (spec.epilog) lines.push('', spec.epilog);
  return lines.join('\n') + '\n';
}

/**
 * Barman's check_size: N, NB, N{K,M,G,T,P}B are binary (×1024ⁿ), N{K,…}iB decimal (×1000ⁿ) — Barman's own
 * inverted convention, kept for drop-in compatibility. Case-insensitive; floats allowed.
 */
export function parseSize(text: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGTPEZY]?)(I?)B?\s*$/i.exec(text);
  if (!m) throw new UsageError(`invalid ${what} '${text}' (expected e.g. 100GB, 5MB, 64KiB or a number of bytes)`);
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toUpperCase();
  const base = m[3] ? 1000 : 1024;
  const power = unit === '' ? 0 : 'KMGTPEZY'.indexOf(unit) + 1;
  const bytes = Math.floor(n * base ** power);
  if (bytes < 1) throw new UsageError(`invalid ${what} '${text}': must be at least 1 byte`);
  return bytes;
}
