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
  const v = [(seed + P1 + P2) | 0, (seed + P2) | 0, seed | 0, (seed - P1) | 0];
  const pending = new Uint8Array(16);
  let held = 0;
  let total = 0;
  const stripe = (dv: DataView, p: number): void => {
    v[0] = round(v[0] as number, dv.getUint32(p, true));
    v[1] = round(v[1] as number, dv.getUint32(p + 4, true));
    v[2] = round(v[2] as number, dv.getUint32(p + 8, true));
    v[3] = round(v[3] as number, dv.getUint32(p + 12, true));
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
        stripe(new DataView(pending.buffer), 0);
        held = 0;
      }
      const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
      for (; p + 16 <= data.length; p += 16) stripe(dv, p);
      pending.set(data.subarray(p), 0);
      held = data.length - p;
      return state;
    },
    digest() {
      let h = total >= 16
        ? (rotl(v[0] as number, 1) + rotl(v[1] as number, 7) + rotl(v[2] as number, 12) + rotl(v[3] as number, 18)) | 0
        : (seed + P5) | 0;
      h = (h + total) | 0;
      const dv = new DataView(pending.buffer);
      let p = 0;
      for (; p + 4 <= held; p += 4) h = Math.imul(rotl((h + Math.imul(dv.getUint32(p, true), P3)) | 0, 17), P4);
      for (; p < held; p++) h = Math.imul(rotl((h + Math.imul(pending[p] as number, P5)) | 0, 11), P1);
      h = Math.imul(h ^ (h >>> 15), P2);
      h = Math.imul(h ^ (h >>> 13), P3);
      return (h ^ (h >>> 16)) >>> 0;
    },
  };
  return state;
}
