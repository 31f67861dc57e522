/**
 * Create-only puts on S3-compatible servers: every put with ifAbsent sends If-None-Match: * (AWS, MinIO, Ceph and
 * moto enforce it with 412); a server that ignores it overwrites, so for an endpoint the first create-only put
 * also finds out which it is, once per store. Shared by the SDK store (s3-store.ts) and the lean store in front of
 * it (lean-reads.ts): one probe per store, whichever of the two sends the first create-only put, with its own
 * requests. No AWS SDK here.
 */
import { randomBytes } from 'node:crypto';
import type { StoreCapabilities } from '../../object-store.js';
import { ObjectExistsError } from '../../errors.js';

/** The requests a probe and the check make, each through the store that runs them (errors classified). */
export interface CreateOnlyRequests {
  /** One create-only PutObject of `body` at `probeKey`, with the store's encryption settings, no guard. */
  putProbe(probeKey: string, body: Buffer): Promise<unknown>;
  /** One DeleteObject of `probeKey`. */
  deleteProbe(probeKey: string): Promise<unknown>;
  exists(key: string): Promise<boolean>;
}

export type CreateOnlyVerdict = 'enforced' | 'ignored' | 'unknown';

export class CreateOnlyGuard {
  /** Whether this endpoint enforces If-None-Match ('unknown' when the probe itself failed, e.g. no permission). */
  private probe: Promise<CreateOnlyVerdict> | undefined;

  constructor(private readonly capabilities: StoreCapabilities, private readonly bucket: string) {}

  /**
   * Before a create-only put of `key`: probes the endpoint once; where it is known to ignore the condition, looks
   * right before the write (to keep the window for a race small) and throws ObjectExistsError when `key` exists.
   */
  async check(key: string, requests: CreateOnlyRequests): Promise<void> {
    if (this.capabilities.conditionalCreate) return;
    this.probe ??= this.run(key, requests).catch(() => 'unknown' as const);
    if ((await this.probe) === 'ignored' && (await requests.exists(key).catch(() => false))) {
      throw new ObjectExistsError({ provider: 's3', operation: 'put', key, bucket: this.bucket }, `object already exists: s3://${this.bucket}/${key}`);
    }
  }

  /**
   * Two create-only puts of a tiny object beside `key`: a server that enforces If-None-Match refuses the second
   * (412), and capabilities.conditionalCreate becomes true; otherwise it stays false and callers re-read what they
   * wrote. The probe object is deleted again (best effort; Barman and pgstow ignore the name in listings).
   */
  private async run(key: string, requests: CreateOnlyRequests): Promise<'enforced' | 'ignored'> {
    // A name of its own per probe: archivers started together (wal-archive processes, --max-parallel) must not
    // put and delete one object at once (s3rver dies of that race; a store could answer a probe for another's).
    const probe = `${key.slice(0, key.lastIndexOf('/') + 1)}.pgstow-create-only-probe-${randomBytes(6).toString('hex')}`;
    const refused = async (): Promise<boolean> => requests.putProbe(probe, Buffer.from('probe')).then(() => false, (err: unknown) => {
      if (err instanceof ObjectExistsError) return true;
      throw err;
    });
    const enforced = (await refused()) || (await refused());
    (this.capabilities as { conditionalCreate: boolean }).conditionalCreate = enforced;
    await requests.deleteProbe(probe).catch(() => undefined);
    return enforced ? 'enforced' : 'ignored';
  }
}
