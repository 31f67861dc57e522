/**
 * pgstow as a library: `import { openEngine, type EngineSettings } from 'pgstow'`.
 * Everything a host needs is exported from here; other modules are internal and may change.
 */
export type * from './types.js';
export type * from './settings.js';
export { openEngine } from './open-engine.js';
export { ERRORS, ExitCode, PgstowError, UsageError, ConfigError, OperationError, isPgstowError } from '../errors.js';
export {
  StorageError, ObjectNotFoundError, ObjectExistsError, AccessDeniedError, InvalidCredentialsError, BucketNotFoundError, TlsError,
  StorageUnavailableError, StorageRequestError, IntegrityError,
} from '../storage/errors.js';
export { WARNINGS, silentLogger } from '../logger.js';
export { Secret } from '../secret.js';
/** Where an engine keeps a WAL spool below a base directory (one per destination and server). */
export { defaultSpoolDir } from '../services/wal-spool.js';
export { memoryBudget, parseMemorySize, type MemoryBudget } from '../memory-budget.js';
