/**
 * Composition root: the one place that turns EngineSettings into ready ObjectStores, with the driver the
 * provider names and the decorators every store gets (restic's wrapBackend). It takes settings only, never a
 * command line; the engine calls it, commands and services do not.
 *
 * A store is opened per purpose: `wal` (WAL, catalog, restores) and `data` (base backup uploads), because
 * their upload settings differ (server-side encryption, part sizes, parallel parts).
 */
import * as fsp from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import type { EngineSettings, EndpointCa } from '../engine/settings.js';
import { revealText } from '../secret.js';
import type { ObjectStore } from '../storage/object-store.js';
import { openStore, supportsLiveSettings } from '../storage/registry.js';
import { withRetry } from '../storage/decorators/retrying-store.js';
import { deadlineFor, withDeadline, type DeadlineOptions } from '../storage/decorators/deadline-store.js';
import { checkCaPem } from '../storage/ca-file.js';
import { withRotation, type StoreLeaseSource } from '../storage/decorators/rotating-store.js';
import { inferProvider, parseDestination } from '../storage/destination.js';
import type { CaBundle, Destination, LiveStoreSettings, StoreOptions } from '../storage/store-options.js';

export type StorePurpose = 'wal' | 'data';

const MIB = 1024 * 1024;
const DEFAULT_MAX_ARCHIVE = 100 * 1024 ** 3;

/** The provider of the settings (explicit, else from the destination URL). */
export function providerOf(settings: EngineSettings): NonNullable<EngineSettings['provider']> {
  return settings.provider ?? inferProvider(settings.destination);
}

export function destinationOf(settings: EngineSettings): Destination {
  return parseDestination(settings.destination, providerOf(settings));
}

/** Reads the CA once (asynchronously) and checks it is PEM; messages name the file, never the content. */
export async function loadCa(ca: EndpointCa | undefined): Promise<CaBundle | undefined> {
  if (!ca) return undefined;
  if ('pem' in ca) {
    const pem = revealText(ca.pem);
    checkCaPem(pem, 'the endpointCA value', 'endpointCA');
    return { pem, source: 'endpointCA' };
  }
  let pem: string;
  try {
    pem = await fsp.readFile(ca.file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the CA file ${ca.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'endpointCA', { cause: err });
  }
  checkCaPem(pem, `the CA file ${ca.file}`, 'endpointCA');
  return { pem, source: ca.file };
}

/** What the driver of `purpose` gets: connection, credentials, and the upload tuning that purpose needs. */
export function storeOptionsFor(settings: EngineSettings, purpose: StorePurpose, ca: CaBundle | undefined): StoreOptions {
  const provider = providerOf(settings);
  const options: StoreOptions = { provider, destinationUrl: settings.destination };
  if (settings.endpointUrl) options.endpointUrl = settings.endpointUrl;
  if (ca) options.ca = ca;
  if (settings.readTimeoutSeconds !== undefined) options.readTimeoutSeconds = settings.readTimeoutSeconds;
  if (settings.credentials) options.credentials = settings.credentials;
  if (settings.proxy) options.proxy = settings.proxy;
  const encryption = purpose === 'wal' ? settings.wal?.encryption : settings.data?.encryption;
  const data = settings.data ?? {};
  const jobs = data.jobs ?? 2;
  const maxArchiveSize = Math.min(data.maxArchiveSize ?? DEFAULT_MAX_ARCHIVE, 1024 ** 4);
  if (provider === 'aws-s3') {
    const s3 = settings.s3 ?? {};
    options.s3 = {
      ...(s3.region ? { region: s3.region } : {}),
      ...(s3.addressingStyle ? { addressingStyle: s3.addressingStyle } : {}),
      ...(s3.requestChecksumCalculation ? { requestChecksumCalculation: s3.requestChecksumCalculation } : {}),
      ...(s3.responseChecksumValidation ? { responseChecksumValidation: s3.responseChecksumValidation } : {}),
      ...(encryption ? { encryption } : {}),
      ...(s3.sseKmsKeyId && encryption === 'aws:kms' ? { sseKmsKeyId: s3.sseKmsKeyId } : {}),
    };
    if (purpose === 'data') {
      options.s3.uploadConcurrency = jobs;
      // With --min-chunk-size, Barman's chunk size: max(2 × max-archive-size / 10000 parts, 5 MiB, the option).
      // Otherwise the driver sizes parts from the expected volume size (smaller parts, less memory).
      if (data.minChunkSize !== undefined) options.s3.partSize = Math.max(2 * Math.floor(maxArchiveSize / 10000), 5 * MIB, data.minChunkSize);
    }
  }
  if (provider === 'azure-blob-storage') {
    const az = settings.azure ?? {};
    options.azure = {
      ...(az.encryptionScope ? { encryptionScope: az.encryptionScope } : {}),
      ...(az.maxBlockSize !== undefined ? { maxBlockSize: az.maxBlockSize } : {}),
      ...(az.maxSinglePutSize !== undefined ? { maxSinglePutSize: az.maxSinglePutSize } : {}),
      ...(az.maxConcurrency !== undefined ? { maxConcurrency: az.maxConcurrency } : {}),
    };
    if (purpose === 'data') {
      options.azure.maxConcurrency = jobs;
      if (data.minChunkSize !== undefined) options.azure.maxBlockSize = Math.max(2 * Math.floor(maxArchiveSize / 50000), 64 * 1024, data.minChunkSize);
    }
  }
  if (provider === 'google-cloud-storage') {
    const g = settings.gcs ?? {};
    options.gcs = {
      ...(g.kmsKeyName ? { kmsKeyName: g.kmsKeyName } : {}),
      ...(g.chunkSize !== undefined ? { chunkSize: g.chunkSize } : {}),
      ...(g.projectId ? { projectId: g.projectId } : {}),
      ...(g.emulator ? { emulator: true } : {}),
    };
  }
  return options;
}

export interface ComposedStore {
  store: ObjectStore;
  destination: Destination;
}

/**
 * Opens a store for `options`: the driver, then the retry decorator (throttling, 5xx, resets and timeouts
 * are retried with backoff everywhere). With `live`, a driver that takes credentials and CA per request
 * keeps one client for the store's life; any other driver is reopened per settings generation (`rotation`),
 * each operation keeping the store it started with. `testHook` decorates the store under the retry decorator
 * (restic's test hook slot: tests inject faults there).
 */
export async function composeStore(options: StoreOptions,
  rotation?: { live: () => LiveStoreSettings; leases: StoreLeaseSource; readTimeoutSeconds?: () => number | undefined },
  testHook: (store: ObjectStore) => ObjectStore = (s) => s): Promise<ComposedStore> {
  // With rotation the bound follows the settings in force (reconfigure() may change --read-timeout).
  const deadline = rotation?.readTimeoutSeconds ? (): DeadlineOptions => deadlineFor({ readTimeoutSeconds: rotation.readTimeoutSeconds?.() }) : deadlineFor(options);
  if (rotation && await supportsLiveSettings(options.provider)) {
    const opened = await openStore({ ...options, live: rotation.live });
    return { store: bounded(testHook(opened.store), deadline), destination: opened.destination };
  }
  if (rotation) {
    const first = await rotation.leases.acquire();
    await first.release();
    return { store: bounded(testHook(withRotation(first.store, rotation.leases)), deadline), destination: parseDestination(options.destinationUrl, options.provider) };
  }
  const opened = await openStore(options);
  return { store: bounded(testHook(opened.store), deadline), destination: opened.destination };
}

/**
 * Transient failures (throttling, 5xx, resets, timeouts) are retried with backoff, and no call waits longer than
 * the deadline, retries included (a store that accepts connections and never answers).
 */
function bounded(store: ObjectStore, deadline: DeadlineOptions | (() => DeadlineOptions)): ObjectStore {
  return withDeadline(withRetry(store), deadline);
}
