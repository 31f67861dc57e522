/** A command whose issue has not landed: parses Barman's arguments, then exits 4 with a clear message. */
import type { PositionalSpec } from './args.js';
import type { Command } from './command.js';
import { COMMON_OPTIONS, EXIT_CODES_EPILOG } from './common-options.js';
import { NotImplementedError } from '../errors.js';

export function stubCommand(summary: string, positionals: readonly PositionalSpec[]): Command {
  return {
    spec: (name) => ({ name, summary, positionals, options: COMMON_OPTIONS, epilog: EXIT_CODES_EPILOG }),
    async run(_args, ctx) {
      throw new NotImplementedError(ctx.invokedAs);
    },
  };
}
