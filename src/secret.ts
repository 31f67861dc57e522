/**
 * A secret value that cannot leak by accident: String(), JSON.stringify, util.inspect and template literals
 * all print "***". The value is only reachable through reveal(), so every use of it is greppable.
 * It sits beside errors.ts because settings, drivers and the config layer all carry secrets.
 */
import { inspect } from 'node:util';

const REDACTED = '***';

export class Secret {
  readonly #value: string;
  /** Where it came from, e.g. `Secret default/aws-creds key ACCESS_SECRET_KEY (manifest a.yaml)`; never the value. */
  readonly origin: string;

  constructor(value: string, origin: string) {
    this.#value = value;
    this.origin = origin;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `Secret(${REDACTED})`;
  }
}

/** A credential field: plain text from a library caller, or a Secret from a manifest (prints as ***). */
export type SecretText = string | Secret;

/** The text of a SecretText. */
export function revealText(v: SecretText): string {
  return typeof v === 'string' ? v : v.reveal();
}
