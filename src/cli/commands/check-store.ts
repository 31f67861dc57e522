/** `pgstow check-store [options] DESTINATION SERVER_NAME`: preflight of a destination (services/check-store.ts). */
import type { Command } from '../command.js';
import { EXIT_CODES_EPILOG, optionsOf } from '../common-options.js';
import { openCommandEngine } from '../command-engine.js';
import { redact } from '../redact.js';
import type { ExitCode } from '../../errors.js';

export const command: Command = {
  spec: (name) => ({
    name,
    summary: 'Preflight: try list, put, get and delete under the server prefix and say what works and why not.',
    positionals: [
      { name: 'destinationUrl', help: 'URL of the cloud destination, such as a bucket in AWS S3. For example: s3://bucket/path/to/folder' },
      { name: 'serverName', help: 'the name of the server as configured in Barman' },
    ],
    options: optionsOf('check-store'),
    epilog: `${EXIT_CODES_EPILOG}\n\nExit 0 means WAL archiving and backups can work (list, put and get succeed); a refused delete is reported but only affects retention.`,
  }),
  async run(args, ctx) {
    const c = await openCommandEngine('check-store', args, ctx);
    try {
      const result = await c.engine.checkStore({ signal: ctx.signal });
      const out: string[] = [`checking ${c.url} for server ${c.serverName} (${c.engine.description})`];
      for (const s of result.steps) out.push(`  ${s.step.padEnd(7)} ${s.status === 'ok' ? 'OK     ' : s.status === 'failed' ? 'FAILED ' : 'SKIPPED'} ${s.detail}`);
      out.push(`result: ${result.summary}`);
      ctx.stdout.write(redact(`${out.join('\n')}\n`, ctx.secrets));
      return result.exitCode as ExitCode;
    } finally {
      await c.close();
    }
  },
};
