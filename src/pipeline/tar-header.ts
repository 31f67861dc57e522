/**
 * POSIX tar (ustar) header blocks, with a PAX extended header ("x") when a field does not fit ustar:
 * names over 100 bytes that cannot be split at a "/" into prefix (155) + name (100), non-ASCII names,
 * sizes of 8 GiB or more, large uid/gid, long link targets. Python tarfile's streaming reader (what
 * barman-cloud-restore uses) and GNU tar read both.
 */

export const BLOCK = 512;
/** Python tarfile and GNU tar pad the archive end to a 20-block record. */
export const RECORD = 10240;

export type TarEntryType = 'file' | 'directory' | 'symlink';

export interface TarHeader {
  name: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Seconds since the epoch (fractional allowed; ustar keeps the integer part). */
  mtime: number;
  size: number;
  linkname?: string;
}

const MAX_OCTAL_11 = 0o77777777777; // 8 GiB - 1
const MAX_OCTAL_7 = 0o7777777;

/** Header bytes (PAX record + ustar block, or just the ustar block) for one entry. */
export function encodeHeader(h: TarHeader): Buffer {
  const pax: Record<string, string> = {};
  let name = h.name;
  let prefix = '';
  const nameBytes = Buffer.byteLength(name);
  // eslint-disable-next-line no-control-regex
  const ascii = /^[\x00-\x7f]*$/;
  if (!ascii.test(name)) pax.path = name;
  else if (nameBytes > 100) {
    const split = splitName(name);
    if (split) { prefix = split[0]; name = split[1]; } else pax.path = name;
  }
  if (pax.path !== undefined) name = asciiFallback(h.name).slice(-100);
  let linkname = h.linkname ?? '';
  if (linkname && (Buffer.byteLength(linkname) > 100 || !ascii.test(linkname))) { pax.linkpath = linkname; linkname = asciiFallback(linkname).slice(0, 100); }
  if (h.size > MAX_OCTAL_11) pax.size = String(h.size);
  if (h.uid > MAX_OCTAL_7) pax.uid = String(h.uid);
  if (h.gid > MAX_OCTAL_7) pax.gid = String(h.gid);
  if (!ascii.test(h.uname) || h.uname.length > 32) pax.uname = h.uname;
  if (!ascii.test(h.gname) || h.gname.length > 32) pax.gname = h.gname;

  const block = Buffer.alloc(BLOCK);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, h.mode & 0o7777);
  writeOctal(block, 108, 8, h.uid > MAX_OCTAL_7 ? 0 : h.uid);
  writeOctal(block, 116, 8, h.gid > MAX_OCTAL_7 ? 0 : h.gid);
  writeOctal(block, 124, 12, h.type === 'file' && h.size <= MAX_OCTAL_11 ? h.size : 0);
  writeOctal(block, 136, 12, Math.max(0, Math.floor(h.mtime)));
  block.fill(0x20, 148, 156); // checksum placeholder: spaces
  block.write(h.type === 'file' ? '0' : h.type === 'directory' ? '5' : '2', 156, 'ascii');
  writeString(block, 157, 100, linkname);
  block.write('ustar\x0000', 257, 'binary');
  writeString(block, 265, 32, pax.uname === undefined ? h.uname : '');
  writeString(block, 297, 32, pax.gname === undefined ? h.gname : '');
  writeString(block, 345, 155, prefix);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i] as number;
  writeOctal(block, 148, 7, sum);
  block[155] = 0x20;

  if (Object.keys(pax).length === 0) return block;
  const body = Buffer.from(Object.entries(pax).map(([k, v]) => paxRecord(k, v)).join(''), 'utf8');
  const paxHeader = encodeHeader({ name: paxName(h.name), type: 'file', mode: 0o644, uid: 0, gid: 0, uname: '', gname: '', mtime: h.mtime, size: body.length });
  paxHeader.write('x', 156, 'ascii');
  // Recompute the checksum after changing the type flag.
  paxHeader.fill(0x20, 148, 156);
  let s2 = 0;
  for (let i = 0; i < BLOCK; i++) s2 += paxHeader[i] as number;
  writeOctal(paxHeader, 148, 7, s2);
  paxHeader[155] = 0x20;
  return Buffer.concat([paxHeader, body, Buffer.alloc(padding(body.length)), block]);
}

/** Zero bytes needed after `size` bytes of content to reach a block boundary. */
export function padding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

/** End of archive: two zero blocks, then zeros up to the record size. */
export function endOfArchive(bytesWritten: number): Buffer {
  const total = bytesWritten + 2 * BLOCK;
  const r = total % RECORD;
  return Buffer.alloc(2 * BLOCK + (r === 0 ? 0 : RECORD - r));
}

function paxRecord(key: string, value: string): string {
  const payload = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(payload);
  let digits = String(len).length;
  while (String(len + digits).length !== digits) digits++;
  len += digits;
  return `${len}${payload}`;
}

function paxName(name: string): string {
  return asciiFallback(`././@PaxHeader/${name.split('/').pop() ?? ''}`).slice(0, 100);
}

function asciiFallback(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[^\x00-\x7f]/g, '_');
}

function splitName(name: string): [string, string] | null {
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest.length > 0) return [prefix, rest];
  }
  return null;
}

function writeString(buf: Buffer, offset: number, length: number, value: string): void {
  buf.write(value, offset, length, 'utf8');
}

function writeOctal(buf: Buffer, offset: number, length: number, value: number): void {
  const text = value.toString(8).padStart(length - 1, '0');
  buf.write(`${text}\0`, offset, length, 'ascii');
}
