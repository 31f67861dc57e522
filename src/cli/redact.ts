/**
 * Secret scrubbing at the output boundary. Drivers never put secrets in messages on purpose; this is the
 * net under them, for SDK messages that echo a SAS query string or a connection string.
 */

/** Environment variables whose values are secrets. */
export const SECRET_ENV_VARS = [
  'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AZURE_STORAGE_KEY', 'AZURE_STORAGE_SAS_TOKEN',
  'AZURE_STORAGE_CONNECTION_STRING', 'AZURE_CLIENT_SECRET', 'AZURE_CLIENT_CERTIFICATE_PASSWORD', 'AZURE_PASSWORD',
  'IDENTITY_HEADER', 'MSI_SECRET', 'PGPASSWORD',
] as const;

/** Secrets given on the command line: the password of a -d conninfo or postgresql:// URI, and of any URL's userinfo. */
export function secretsFromArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of argv) {
    const url = /^[a-z][a-z0-9+.-]*:\/\/[^/@:]*:([^/@]+)@/i.exec(a)?.[1];
    if (url) { out.push(url); try { out.push(decodeURIComponent(url)); } catch { /* not percent-encoded */ } }
    const kv = /(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/i.exec(a)?.[1];
    if (kv) out.push(kv.startsWith("'") ? kv.slice(1, -1).replace(/\\(.)/g, '$1') : kv);
  }
  return out.filter((s) => s.length >= 4);
}

/** Collects secret values from an environment (and the key inside an Azure connection string). */
export function secretsFromEnv(env: Readonly<Record<string, string | undefined>>): string[] {
  const out: string[] = [];
  for (const name of SECRET_ENV_VARS) {
    const v = env[name];
    if (v && v.length >= 4) out.push(v);
  }
  const cs = env.AZURE_STORAGE_CONNECTION_STRING;
  if (cs) {
    for (const part of cs.split(';')) {
      const m = /^(AccountKey|SharedAccessSignature)=(.+)$/i.exec(part.trim());
      if (m?.[2]) out.push(m[2]);
    }
  }
  return out;
}

const PATTERNS: Array<[RegExp, string]> = [
  // Userinfo in any URL (postgresql://user:pw@host, s3://KEY:SECRET@bucket).
  [/([a-z][a-z0-9+.-]*:\/\/[^/@:\s]*:)[^/@\s]+@/gi, '$1***@'],
  // SAS signatures and tokens in URLs.
  [/([?&](?:sig|se|sv|sp|st|spr|srt|ss|sr|skoid|sktid|skt|ske|sks|skv)=)[^&\s"']+/gi, '$1***'],
  [/(AccountKey=)[^;\s"']+/gi, '$1***'],
  [/(SharedAccessSignature=)[^;\s"']+/gi, '$1***'],
  [/(X-Amz-Signature=|X-Amz-Credential=|X-Amz-Security-Token=)[^&\s"']+/gi, '$1***'],
  [/("private_key"\s*:\s*")[^"]+/g, '$1***'],
  [/(password=)[^\s&;]+/gi, '$1***'],
];

export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) {
    if (s) out = out.split(s).join('***');
  }
  for (const [re, rep] of PATTERNS) out = out.replace(re, rep);
  return out;
}
