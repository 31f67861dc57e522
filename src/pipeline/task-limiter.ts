/**
 * At most `limit` tasks at once, shared by every stream of one operation: a backup's archives compress
 * concurrently, and together they use the cores the user allowed (--jobs), not jobs × archives.
 */
export class TaskLimiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`task limit must be a positive integer, not ${limit}`);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter (active stays the same), or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/**
 * Tasks that each hold a known number of bytes, at most `capacity` bytes at once; a task larger than the
 * capacity still runs, alone. `first` puts a task ahead of those waiting (what a caller waits for, before
 * read-ahead). Waiters start in order: a large task is not overtaken forever by small ones.
 */
export class ByteLimiter {
  private held = 0;
  private running = 0;
  private readonly waiting: Array<{ bytes: number; start: () => void }> = [];

  constructor(readonly capacity: number) {
    if (!(capacity > 0)) throw new RangeError(`byte capacity must be positive, not ${capacity}`);
  }

  async run<T>(bytes: number, task: () => Promise<T>, options: { first?: boolean } = {}): Promise<T> {
    if (this.waiting.length > 0 || !this.fits(bytes)) {
      await new Promise<void>((start) => { if (options.first) this.waiting.unshift({ bytes, start }); else this.waiting.push({ bytes, start }); });
    } else {
      this.take(bytes);
    }
    try {
      return await task();
    } finally {
      this.held -= bytes;
      this.running--;
      this.wake();
    }
  }

  private fits(bytes: number): boolean {
    return this.running === 0 || this.held + bytes <= this.capacity;
  }

  private take(bytes: number): void {
    this.held += bytes;
    this.running++;
  }

  private wake(): void {
    for (let next = this.waiting[0]; next && this.fits(next.bytes); next = this.waiting[0]) {
      this.waiting.shift();
      this.take(next.bytes);
      next.start();
    }
  }
}
