/** xxHash32 (seed 0 by default), the checksum of LZ4 frames (header, blocks, content). */
const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));
const round = (acc: number, lane: number): number => Math.imul(rotl((acc + Math.imul(lane, P2)) | 0, 13), P1);

export function xxh32(data: Uint8Array, seed = 0): number {
  const len = data.length;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let p = 0;
  let h: number;
  if (len >= 16) {
    let v1 = (seed + P1 + P2) | 0;
    let v2 = (seed + P2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - P1) | 0;
    const limit = len - 16;
    while (p <= limit) {
      v1 = round(v1, dv.getUint32(p, true));
      v2 = round(v2, dv.getUint32(p + 4, true));
      v3 = round(v3, dv.getUint32(p + 8, true));
      v4 = round(v4, dv.getUint32(p + 12, true));
      p += 16;
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = (seed + P5) | 0;
  }
  h = (h + len) | 0;
  while (p + 4 <= len) {
    h = Math.imul(rotl((h + Math.imul(dv.getUint32(p, true), P3)) | 0, 17), P4);
    p += 4;
  }
  while (p < len) {
    h = Math.imul(rotl((h + Math.imul(data[p] as number, P5)) | 0, 11), P1);
    p++;
  }
  h = Math.imul(h ^ (h >>> 15), P2);
  h = Math.imul(h ^ (h >>> 13), P3);
  return (h ^ (h >>> 16)) >>> 0;
}

export interface Xxh32State {
  update(data: Uint8Array): Xxh32State;
  digest(): number;
}

/** Incremental xxHash32 over several buffers (an LZ4 frame's content checksum over its blocks). */
export function xxh32Stream(seed = 0): Xxh32State {
  // The lanes live in locals while a buffer is hashed (an array of them cost 3× the time: int32 values that
  // are not Smis are boxed on every store).
  let [v1, v2, v3, v4] = xxh32Lanes(seed);
  const pending = new Uint8Array(16);
  const pendingView = new DataView(pending.buffer);
  let held = 0;
  let total = 0;
  const stripes = (dv: DataView, from: number, to: number): void => {
    let a = v1, b = v2, c = v3, d = v4;
    for (let p = from; p + 16 <= to; p += 16) {
      a = round(a, dv.getUint32(p, true));
      b = round(b, dv.getUint32(p + 4, true));
      c = round(c, dv.getUint32(p + 8, true));
      d = round(d, dv.getUint32(p + 12, true));
    }
    v1 = a; v2 = b; v3 = c; v4 = d;
  };
  const state: Xxh32State = {
    update(data) {
      total += data.length;
      let p = 0;
      if (held > 0) {
        const take = Math.min(16 - held, data.length);
        pending.set(data.subarray(0, take), held);
        held += take;
        p = take;
        if (held < 16) return state;
        stripes(pendingView, 0, 16);
        held = 0;
      }
      const whole = p + ((data.length - p) & ~15);
      if (whole > p) stripes(new DataView(data.buffer, data.byteOffset, data.byteLength), p, whole);
      p = whole;
      pending.set(data.subarray(p), 0);
      held = data.length - p;
      return state;
    },
    digest() {
      return xxh32Finish([v1, v2, v3, v4], total, pending.subarray(0, held), seed);
    },
  };
  return state;
}

/** The lanes' start values for a seed. */
export function xxh32Lanes(seed = 0): [number, number, number, number] {
  return [(seed + P1 + P2) | 0, (seed + P2) | 0, seed | 0, (seed - P1) | 0];
}

/** xxHash32's last steps: the lanes (used when `total` ≥ 16), the length, then the < 16 bytes after the last stripe. */
export function xxh32Finish(lanes: readonly [number, number, number, number], total: number, tail: Uint8Array, seed = 0): number {
  const [v1, v2, v3, v4] = lanes;
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let h = total >= 16
    ? (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0
    : (seed + P5) | 0;
  h = (h + total) | 0;
  let p = 0;
  for (; p + 4 <= tail.length; p += 4) h = Math.imul(rotl((h + Math.imul(view.getUint32(p, true), P3)) | 0, 17), P4);
  for (; p < tail.length; p++) h = Math.imul(rotl((h + Math.imul(tail[p] as number, P5)) | 0, 11), P1);
  h = Math.imul(h ^ (h >>> 15), P2);
  h = Math.imul(h ^ (h >>> 13), P3);
  return (h ^ (h >>> 16)) >>> 0;
}
