/**
 * `pgstow config migrate FILE`: in-tree barmanObjectStore → ObjectStore + plugin stanza (src/plugin/operator).
 * `pgstow config check [FILE]`: validates a CloudNativePG manifest with CNPG's admission rules, resolves its
 * Secrets, and prints what pgstow would do with it: driver, credential method and why, every secret redacted,
 * and for workload identities what the pod needs and whether this environment has it.
 */
import type { Command } from '../command.js';
import { configRequestOf, EXIT_CODES_EPILOG, optionsOf } from '../common-options.js';
import { UsageError } from '../../errors.js';
import type { ResolvedConfig } from '../../config/resolved-config.js';

export const command: Command = {
  spec: (name) => ({
    name,
    summary: 'check: validate a CloudNativePG Cluster or ObjectStore manifest (with its Secrets) and show what pgstow resolves it to (secrets shown as ***). migrate: turn a Cluster using in-tree barmanObjectStore into ObjectStores and the barman-cloud plugin stanza (YAML on stdout).',
    positionals: [{ name: 'action', help: 'check or migrate' }, { name: 'file', help: 'manifest file (default: --config or PGSTOW_CONFIG)', optional: true }],
    options: optionsOf('config'),
    epilog: EXIT_CODES_EPILOG,
  }),
  async run(args, ctx) {
    if (args.positionals.action === 'migrate') return (await import('../../plugin/operator/migrate-command.js')).runMigrate(args, ctx);
    if (args.positionals.action !== 'check') throw new UsageError(`unknown config action "${String(args.positionals.action)}" (expected: check or migrate)`);
    const file = args.positionals.file;
    if (typeof file === 'string') args.options.config = file;
    const request = configRequestOf(args, ctx.env, false);
    if (!request) throw new UsageError('no manifest given: pgstow config check FILE (or --config FILE, PGSTOW_CONFIG)');
    const { loadConfig } = await import('../../config/load-config.js');
    const { secretValues } = await import('../../config/resolved-config.js');
    const config = await loadConfig(request);
    ctx.secrets.push(...secretValues(config));
    // Secret values print as *** through Secret.toJSON; the redactor is the net under that.
    const out = args.options.format === 'json' ? `${JSON.stringify(config, null, 2)}\n` : formatText(config);
    const { redact } = await import('../redact.js');
    ctx.stdout.write(redact(out, ctx.secrets));
    return 0;
  },
};

function formatText(c: ResolvedConfig): string {
  const lines: string[] = [];
  const row = (k: string, v: string): void => { lines.push(`${`${k}:`.padEnd(20)}${v}`); };
  row('manifest', `${c.source.file}: ${c.source.kind} ${c.source.name || '<unnamed>'}, ${c.source.path}${c.source.externalCluster ? ` (external cluster ${c.source.externalCluster})` : ''}`);
  row('namespace', `${c.source.namespace} (${c.source.namespaceReason})`);
  row('status', 'valid (CloudNativePG admission rules)');
  row('destination', c.destinationPath);
  row('server name', c.serverName ? `${c.serverName} (${c.serverNameReason})` : `(none: ${c.serverNameReason})`);
  row('driver', `${c.provider}, because ${c.providerReason}`);
  if (c.endpointURL) row('endpoint URL', c.endpointURL);
  if (c.endpointCA) row('endpoint CA', `*** (${c.endpointCA.value.origin})`);
  row('credentials', `${c.credentials.method}: ${c.credentials.reason}`);
  for (const [k, v] of Object.entries(c.credentials.env)) {
    const name = k === 'GOOGLE_APPLICATION_CREDENTIALS_JSON' ? 'GOOGLE_APPLICATION_CREDENTIALS (file)' : k;
    lines.push(`  ${name.padEnd(36)}*** (${v.origin})`);
  }
  if (c.credentials.azureCredential) lines.push(`  Azure credential                    ${c.credentials.azureCredential} (as barman-cloud --credential ${c.credentials.azureCredential})`);
  for (const [k, v] of Object.entries(c.extraEnv)) lines.push(`  env ${k.padEnd(32)}${typeof v === 'string' ? v : `*** (${v.origin})`}`);
  const wal = [c.wal.compression ? `compression ${c.wal.compression}` : 'no compression', c.wal.encryption ? `encryption ${c.wal.encryption}` : 'encryption per bucket policy', `maxParallel ${c.wal.maxParallel}`];
  if (c.wal.archiveAdditionalCommandArgs.length) wal.push(`archive args ${c.wal.archiveAdditionalCommandArgs.join(' ')}`);
  if (c.wal.restoreAdditionalCommandArgs.length) wal.push(`restore args ${c.wal.restoreAdditionalCommandArgs.join(' ')}`);
  row('wal', wal.join(', '));
  const data = [c.data.compression ? `compression ${c.data.compression}` : 'no compression', c.data.encryption ? `encryption ${c.data.encryption}` : 'encryption per bucket policy',
    `jobs ${c.data.jobs ?? '2 (default)'}`, `immediateCheckpoint ${c.data.immediateCheckpoint}`];
  if (c.data.additionalCommandArgs.length) data.push(`backup args ${c.data.additionalCommandArgs.join(' ')}`);
  if (c.data.restoreAdditionalCommandArgs.length) data.push(`restore args ${c.data.restoreAdditionalCommandArgs.join(' ')}`);
  row('data', data.join(', '));
  if (Object.keys(c.tags).length) row('tags', Object.entries(c.tags).map(([k, v]) => `${k}=${v}`).join(', '));
  if (Object.keys(c.historyTags).length) row('history tags', Object.entries(c.historyTags).map(([k, v]) => `${k}=${v}`).join(', '));
  row('retention policy', c.retentionPolicy ? `${c.retentionPolicy.text} = ${c.retentionPolicy.barman}` : '(none)');
  const wi = c.workloadIdentity;
  if (wi) {
    row('workload identity', wi.summary);
    if (wi.serviceAccountAnnotation) {
      const a = wi.serviceAccountAnnotation;
      lines.push(`  ServiceAccount annotation ${a.name}: ${a.inManifest ? `set in the manifest (${a.value ?? ''})` : 'NOT set in spec.serviceAccountTemplate.metadata.annotations (set it, or annotate the ServiceAccount directly)'}`);
    }
    for (const e of wi.environments) {
      lines.push(`  ${e.satisfied ? '[ok]     ' : '[missing]'} ${e.name}`);
      for (const r of e.requirements) lines.push(`      ${r.present === true ? 'present' : r.present === false ? 'missing' : 'unknown'}: ${r.what}${r.detail ? ` (${r.detail})` : ''}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
