/**
 * Memory settings for the long-lived sidecar. A WAL segment (16 MiB) is read, hashed and uploaded as one
 * buffer; glibc's malloc raises its mmap threshold after the first such buffer is freed, so later ones come
 * from the heap and their pages are not given back: RSS settles far above what is live. A fixed threshold
 * keeps large buffers in mmap (returned to the kernel on free), and two arenas bound fragmentation between
 * threads (libuv, zlib). The image sets these variables (they are read when the process starts); the sidecar
 * warns when they are missing. Measured in bench/plugin-memory.ts (16 MiB segments: 165 → 141 MiB steady RSS).
 * The threshold is 32 KiB, below the 64 KiB chunks a socket read and a file read hand over: at 128 KiB those
 * came from the arenas, and a restore that holds a few of them while it frees thousands left the arenas
 * fragmented (recovery Job, 438 MiB restore: peak 166–173 → 115 MiB, 163 → 106 MiB after; a backup's peak
 * 130–134 → 121 MiB; 64 KiB: 137 and 127).
 */
export const SIDECAR_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: '32768',
  MALLOC_ARENA_MAX: '2',
  // V8's young generation: the default semi-spaces (up to 16 MiB each, kept) are sized for throughput of
  // short-lived objects; the sidecar's are few and its big data lives outside the V8 heap.
  NODE_OPTIONS: '--max-semi-space-size=2',
};

/** Names of the recommended settings this environment lacks. */
export function missingMemorySettings(env: Readonly<Record<string, string | undefined>>): string[] {
  return Object.entries(SIDECAR_MALLOC_ENV).filter(([k, v]) => (k === 'NODE_OPTIONS' ? !(env[k] ?? '').includes(v) : env[k] === undefined)).map(([k, v]) => `${k}=${v}`);
}
