/**
 * Composition root: the one place that turns parsed command-line options (and, later, a CloudNativePG
 * manifest) into a ready ObjectStore with its decorators and the Barman layout for one server.
 */
import type { ParsedArgs } from '../cli/args.js';
import type { CommandContext } from '../cli/command.js';
import { destinationOf, storeOptionsFromArgs } from '../cli/common-options.js';
import { BarmanLayout } from '../repository/barman-layout.js';
import type { ObjectStore } from '../storage/object-store.js';
import { openStore } from '../storage/registry.js';
import { withRetry } from '../storage/decorators/retrying-store.js';
import type { Destination, StoreOptions } from '../storage/store-options.js';

export interface ComposedStore {
  store: ObjectStore;
  layout: BarmanLayout;
  destination: Destination;
  options: StoreOptions;
  serverName: string;
}

/** Opens the store named by the command's URL + SERVER_NAME positionals and options. */
export async function composeStore(args: ParsedArgs, ctx: CommandContext): Promise<ComposedStore> {
  const { url, serverName } = destinationOf(args);
  const options = storeOptionsFromArgs(args, ctx.env, url);
  return composeStoreFromOptions(options, serverName);
}

export async function composeStoreFromOptions(options: StoreOptions, serverName: string): Promise<ComposedStore> {
  const opened = await openStore(options);
  const { destination } = opened;
  // Transient failures (throttling, 5xx, resets, timeouts) are retried with backoff for every command.
  const store = withRetry(opened.store);
  return { store, destination, options, serverName, layout: new BarmanLayout(destination.prefix, serverName) };
}
