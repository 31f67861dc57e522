/**
 * The Python literals backup.info stores (`repr()` on write, `ast.literal_eval` on read): str, int, float,
 * None, True/False, list, tuple, dict. Values keep what a byte-exact rewrite needs: floats stay PyFloat
 * (so `0.0` is not turned into `0`), tuples stay PyTuple, dicts keep their insertion order.
 */

export class PyFloat {
  constructor(readonly value: number) {}
}

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

export class PyDict {
  constructor(readonly entries: ReadonlyArray<readonly [PyValue, PyValue]>) {}

  /** Value of the first entry whose key equals `key` (str or int keys). */
  get(key: string | number): PyValue | undefined {
    for (const [k, v] of this.entries) if (k === key) return v;
    return undefined;
  }
}

/** int is `number` (safe integers) or `bigint`; a non-integer `number` is written as a float. */
export type PyValue = null | boolean | number | bigint | string | PyFloat | PyTuple | PyDict | readonly PyValue[];

export class PythonLiteralError extends Error {
  constructor(message: string, readonly position: number) {
    super(`${message} at offset ${position}`);
  }
}
PythonLiteralError.prototype.name = 'PythonLiteralError';

// ---------------------------------------------------------------------------------------------------------
// Reading

/** Parses one literal as `ast.literal_eval` does for the types above; throws PythonLiteralError. */
export function parsePythonLiteral(text: string): PyValue {
  const p = new Parser(text);
  p.skipSpace();
  const value = p.value();
  p.skipSpace();
  if (p.pos !== text.length) p.fail('unexpected trailing text');
  return value;
}

class Parser {
  pos = 0;
  constructor(private readonly s: string) {}

  fail(message: string): never {
    throw new PythonLiteralError(message, this.pos);
  }

  skipSpace(): void {
    // Inside brackets Python also allows newlines and backslash continuations.
    while (this.pos < this.s.length) {
      const c = this.s[this.pos]!;
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') this.pos++;
      else if (c === '\\' && (this.s[this.pos + 1] === '\n' || this.s[this.pos + 1] === '\r')) this.pos += 2;
      else break;
    }
  }

  value(): PyValue {
    const c = this.s[this.pos];
    if (c === undefined) this.fail('unexpected end of literal');
    if (c === '[') return this.sequence(']');
    if (c === '(') return this.tuple();
    if (c === '{') return this.dict();
    if (c === '-' || c === '+' || c === '.' || (c >= '0' && c <= '9')) return this.number();
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.pos))![0];
      if (/^[rRuUbBfF]{1,2}$/.test(m) && (this.s[this.pos + m.length] === "'" || this.s[this.pos + m.length] === '"')) return this.strings();
      this.pos += m.length;
      if (m === 'None') return null;
      if (m === 'True') return true;
      if (m === 'False') return false;
      this.pos -= m.length;
      this.fail(`unsupported name '${m}'`);
    }
    if (c === "'" || c === '"') return this.strings();
    this.fail(`unexpected character '${c}'`);
  }

  /** Adjacent string literals concatenate, as in Python source. */
  private strings(): string {
    let out = this.string();
    for (;;) {
      const save = this.pos;
      this.skipSpace();
      const c = this.s[this.pos];
      if (c === "'" || c === '"' || (c !== undefined && /[rRuU]/.test(c) && /^[rRuU]{1,2}['"]/.test(this.s.slice(this.pos, this.pos + 3)))) {
        out += this.string();
      } else {
        this.pos = save;
        return out;
      }
    }
  }

  private string(): string {
    let raw = false;
    while (/[rRuUbBfF]/.test(this.s[this.pos] ?? '')) {
      const c = this.s[this.pos]!.toLowerCase();
      if (c === 'b') this.fail('bytes literals are not supported');
      if (c === 'f') this.fail('f-strings are not literals');
      if (c === 'r') raw = true;
      this.pos++;
    }
    const q = this.s[this.pos]!;
    const triple = this.s.startsWith(q.repeat(3), this.pos);
    const close = triple ? q.repeat(3) : q;
    this.pos += close.length;
    let out = '';
    for (;;) {
      if (this.pos >= this.s.length) this.fail('unterminated string');
      if (this.s.startsWith(close, this.pos)) {
        this.pos += close.length;
        return out;
      }
      const c = this.s[this.pos]!;
      if (!triple && (c === '\n' || c === '\r')) this.fail('newline in string');
      if (c !== '\\') {
        out += c;
        this.pos++;
        continue;
      }
      const n = this.s[this.pos + 1];
      if (n === undefined) this.fail('unterminated string');
      if (raw) {
        out += c + n;
        this.pos += 2;
        continue;
      }
      this.pos += 2;
      out += this.escape(n);
    }
  }

  private escape(n: string): string {
    switch (n) {
      case '\n': return '';
      case '\\': return '\\';
      case "'": return "'";
      case '"': return '"';
      case 'a': return '\x07';
      case 'b': return '\b';
      case 'f': return '\f';
      case 'n': return '\n';
      case 'r': return '\r';
      case 't': return '\t';
      case 'v': return '\v';
      case 'x': return this.hexEscape(2);
      case 'u': return this.hexEscape(4);
      case 'U': return this.hexEscape(8);
      case 'N': this.fail('\\N{...} escapes are not supported');
    }
    if (n >= '0' && n <= '7') {
      let digits = n;
      while (digits.length < 3 && /[0-7]/.test(this.s[this.pos] ?? '')) digits += this.s[this.pos++];
      return String.fromCodePoint(parseInt(digits, 8));
    }
    // Python keeps unknown escapes verbatim (with a warning).
    return '\\' + n;
  }

  private hexEscape(len: number): string {
    const hex = this.s.slice(this.pos, this.pos + len);
    if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) this.fail(`truncated \\${len === 2 ? 'x' : len === 4 ? 'u' : 'U'} escape`);
    this.pos += len;
    const cp = parseInt(hex, 16);
    if (cp > 0x10ffff) this.fail('illegal Unicode character');
    return String.fromCodePoint(cp);
  }

  private number(): number | bigint | PyFloat {
    const m = /^([+-]?)\s*(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*)?\.?[\d_]*(?:[eE][+-]?\d[\d_]*)?)/.exec(this.s.slice(this.pos));
    if (!m || !/\d/.test(m[2] ?? '')) this.fail('invalid number');
    this.pos += m[0].length;
    const sign = m[1] === '-' ? -1 : 1;
    const body = m[2]!.replace(/_/g, '');
    if (/^0[xXoObB]/.test(body)) return intValue(sign, BigInt(body));
    if (/[.eE]/.test(body)) return new PyFloat(sign * Number(body));
    if (/^0\d/.test(body) && /[1-9]/.test(body)) this.fail('leading zeros in a decimal integer');
    return intValue(sign, BigInt(body));
  }

  private sequence(end: string): PyValue[] {
    this.pos++;
    const items: PyValue[] = [];
    for (;;) {
      this.skipSpace();
      if (this.s[this.pos] === end) {
        this.pos++;
        return items;
      }
      items.push(this.value());
      this.skipSpace();
      if (this.s[this.pos] === ',') this.pos++;
      else if (this.s[this.pos] !== end) this.fail(`expected ',' or '${end}'`);
    }
  }

  private tuple(): PyValue {
    // "(x)" is just x; "(x,)" and "()" are tuples.
    const start = this.pos;
    this.pos++;
    this.skipSpace();
    if (this.s[this.pos] === ')') {
      this.pos++;
      return new PyTuple([]);
    }
    const first = this.value();
    this.skipSpace();
    if (this.s[this.pos] === ')') {
      this.pos++;
      return first;
    }
    this.pos = start;
    return new PyTuple(this.sequence(')'));
  }

  private dict(): PyDict {
    this.pos++;
    const entries: Array<[PyValue, PyValue]> = [];
    for (;;) {
      this.skipSpace();
      if (this.s[this.pos] === '}') {
        this.pos++;
        // Python keeps the last value for a repeated key, at the first key's position.
        return new PyDict(dedupe(entries));
      }
      const key = this.value();
      if (key !== null && typeof key === 'object' && !(key instanceof PyTuple) && !(key instanceof PyFloat)) this.fail('unhashable dict key');
      this.skipSpace();
      if (this.s[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      this.skipSpace();
      entries.push([key, this.value()]);
      this.skipSpace();
      if (this.s[this.pos] === ',') this.pos++;
      else if (this.s[this.pos] !== '}') this.fail("expected ',' or '}'");
    }
  }
}

function intValue(sign: number, magnitude: bigint): number | bigint {
  const v = sign < 0 ? -magnitude : magnitude;
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function dedupe(entries: Array<[PyValue, PyValue]>): Array<[PyValue, PyValue]> {
  const out: Array<[PyValue, PyValue]> = [];
  for (const [k, v] of entries) {
    const existing = out.find(([ok]) => ok === k);
    if (existing) existing[1] = v;
    else out.push([k, v]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Writing

/** Python's `repr()` of the value. */
export function formatPythonLiteral(value: PyValue): string {
  if (value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return pythonStringRepr(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : pythonFloatRepr(value);
  if (value instanceof PyFloat) return pythonFloatRepr(value.value);
  if (value instanceof PyTuple) {
    const items = value.items.map(formatPythonLiteral);
    return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
  }
  if (value instanceof PyDict) return `{${value.entries.map(([k, v]) => `${formatPythonLiteral(k)}: ${formatPythonLiteral(v)}`).join(', ')}}`;
  return `[${value.map(formatPythonLiteral).join(', ')}]`;
}

// Python's str.isprintable(): false for categories Cc, Cf, Cs, Co, Cn, Zl, Zp, Zs (except the ASCII space).
const NON_PRINTABLE = /[\p{C}\p{Z}]/u;

/** Python's `repr(str)`: single quotes unless the text has ' and no ", escapes as CPython writes them. */
export function pythonStringRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + hex(cp, 2);
    else if (cp < 0x7f || ch === ' ') out += ch;
    else if (NON_PRINTABLE.test(ch)) out += cp <= 0xff ? '\\x' + hex(cp, 2) : cp <= 0xffff ? '\\u' + hex(cp, 4) : '\\U' + hex(cp, 8);
    else out += ch;
  }
  return out + quote;
}

function hex(n: number, len: number): string {
  return n.toString(16).padStart(len, '0');
}

/** Python's `repr(float)`: shortest round-trip digits, exponent form when exp < -4 or exp >= 16. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp).toString().padStart(2, '0');
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${e}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const intLen = exp + 1;
  if (digits.length <= intLen) return `${sign}${digits.padEnd(intLen, '0')}.0`;
  return `${sign}${digits.slice(0, intLen)}.${digits.slice(intLen)}`;
}

// ---------------------------------------------------------------------------------------------------------
// Helpers for callers

/** Numeric value of an int or float literal; undefined for anything else. */
export function pyNumber(v: PyValue | undefined): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof PyFloat) return v.value;
  return undefined;
}
