/**
 * `pgstow config migrate FILE`: prints FILE with its in-tree Barman Cloud Clusters converted to ObjectStores
 * and plugin stanzas (migrate-cluster.ts), as YAML on stdout; what moved or could not be converted on stderr.
 */
import * as fs from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';
import { ConfigError, UsageError } from '../../errors.js';
import type { ParsedArgs } from '../../cli/args.js';
import type { CommandContext } from '../../cli/command.js';
import { MigrateError, migrateDocuments, type MigrateOptions } from './migrate-cluster.js';

type Json = Record<string, unknown>;

function readDocuments(file: string): Json[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const out: Json[] = [];
  parseAllDocuments(text).forEach((doc, i) => {
    const first = doc.errors[0];
    // Only the position: the offending line could hold a secret.
    if (first) throw new ConfigError(`${file} (document ${i + 1}): YAML syntax error at line ${first.linePos?.[0].line ?? '?'}, column ${first.linePos?.[0].col ?? '?'} (${first.code})`);
    const body: unknown = doc.toJS({ maxAliasCount: 100 });
    if (body === null || body === undefined) return;
    if (typeof body !== 'object' || Array.isArray(body)) throw new ConfigError(`${file} (document ${i + 1}): expected a Kubernetes object`);
    out.push(body as Json);
  });
  return out;
}

export async function runMigrate(args: ParsedArgs, ctx: CommandContext): Promise<number> {
  const file = args.positionals.file;
  if (typeof file !== 'string') throw new UsageError('no manifest given: pgstow config migrate FILE');
  const options: MigrateOptions = {};
  if (typeof args.options.objectStoreName === 'string') options.objectStoreName = args.options.objectStoreName;
  let result;
  try {
    result = migrateDocuments(readDocuments(file), options);
  } catch (err) {
    if (err instanceof MigrateError) throw new ConfigError(`${file}: ${err.message}`);
    throw err;
  }
  ctx.stdout.write(result.documents.map((d) => stringify(d, { lineWidth: 0 })).join('---\n'));
  for (const note of result.notes) ctx.stderr.write(`pgstow config migrate: ${note}\n`);
  return 0;
}
