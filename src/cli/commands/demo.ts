/** `pgstow demo` (npm run demo): archive, back up and point-in-time restore a throwaway PostgreSQL. */
import type { Command } from '../command.js';
import { EXIT_CODES_EPILOG, optionsOf } from '../common-options.js';
import { runDemo } from '../../demo/demo.js';

export const command: Command = {
  spec: (name) => ({
    name,
    summary: 'Archive WAL, take a base backup and restore a throwaway PostgreSQL to a restore point, using a local file:// store.',
    positionals: [],
    options: optionsOf('demo'),
    epilog: EXIT_CODES_EPILOG,
  }),
  async run(args, ctx) {
    const say = (line: string): void => { ctx.stdout.write(`${line}\n`); };
    const result = await runDemo({
      keep: args.options.keep === true, say, signal: ctx.signal,
      ...(typeof args.options.dir === 'string' ? { baseDir: args.options.dir } : {}),
      ...(typeof args.options.rows === 'number' ? { rows: args.options.rows } : {}),
    });
    say(result.ok ? `demo finished in ${result.seconds.toFixed(1)} s: backup, WAL archive and point-in-time restore all worked` : 'demo FAILED: the restored data differs');
    return result.ok ? 0 : 1;
  },
};
