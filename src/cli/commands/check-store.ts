/** `pgstow check-store [options] DESTINATION SERVER_NAME`: preflight of a destination (services/check-store.ts). */
import type { Command } from '../command.js';
import { COMMON_OPTIONS, EXIT_CODES_EPILOG } from '../common-options.js';
import { composeStore } from '../../app/compose.js';
import { checkStore } from '../../services/check-store.js';
import { redact } from '../redact.js';

export const command: Command = {
  spec: (name) => ({
    name,
    summary: 'Preflight: try list, put, get and delete under the server prefix and say what works and why not.',
    positionals: [
      { name: 'destinationUrl', help: 'URL of the cloud destination, such as a bucket in AWS S3. For example: s3://bucket/path/to/folder' },
      { name: 'serverName', help: 'the name of the server as configured in Barman' },
    ],
    options: COMMON_OPTIONS,
    epilog: `${EXIT_CODES_EPILOG}\n\nExit 0 means WAL archiving and backups can work (list, put and get succeed); a refused delete is reported but only affects retention.`,
  }),
  async run(args, ctx) {
    const composed = await composeStore(args, ctx);
    try {
      const result = await checkStore({ store: composed.store, layout: composed.layout }, { signal: ctx.signal });
      const out: string[] = [`checking ${composed.options.destinationUrl} for server ${composed.serverName} (${composed.store.description})`];
      for (const s of result.steps) out.push(`  ${s.step.padEnd(7)} ${s.status === 'ok' ? 'OK     ' : s.status === 'failed' ? 'FAILED ' : 'SKIPPED'} ${s.detail}`);
      out.push(`result: ${result.summary}`);
      ctx.stdout.write(redact(`${out.join('\n')}\n`, ctx.secrets));
      return result.exitCode;
    } finally {
      await composed.store.close();
    }
  },
};
