/**
 * A Duplex stream through an external filter program (e.g. `bzip2 -c`). Used where no maintained,
 * fast JS/native library exists: pure-JS bzip2 compressors run ~15 s per 16 MiB WAL segment, the
 * reference bzip2 program ~0.9 s. The program's failure (non-zero exit) fails the stream.
 */
import { spawn } from 'node:child_process';
import { Duplex } from 'node:stream';

export class FilterProgramError extends Error {
  constructor(message: string, readonly missing: boolean) { super(message); }
}

export function filterThroughProgram(program: string, args: readonly string[]): Duplex {
  const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let stdoutEnded = false;
  let spawnError: Error | undefined;
  // The program closed its input (bzip2 -d stops at damaged data): the rest is dropped and its exit status and
  // stderr, not "write EPIPE", say what went wrong.
  let inputClosed = false;
  let waitingForDrain: (() => void) | undefined;

  const duplex: Duplex = new Duplex({
    write(chunk: Buffer, _enc, cb) {
      if (spawnError) { cb(spawnError); return; }
      if (inputClosed) { cb(); return; }
      if (child.stdin.write(chunk)) { cb(); return; }
      waitingForDrain = cb;
      child.stdin.once('drain', () => { waitingForDrain = undefined; cb(); });
    },
    final(cb) { if (!inputClosed) child.stdin.end(); cb(); },
    read() { child.stdout.resume(); },
    destroy(err, cb) {
      if (exited === undefined) child.kill('SIGKILL');
      cb(err);
    },
  });
  const finish = (): void => {
    if (!exited || !stdoutEnded) return;
    if (exited.code === 0) duplex.push(null);
    else {
      // The program's first line says it ("bzip2: Data integrity error when decompressing."); the rest is advice.
      const why = Buffer.concat(stderr).toString().trim().split('\n')[0]?.trim() || (exited.signal ? `killed by ${exited.signal}` : `exit code ${exited.code}`);
      duplex.destroy(new FilterProgramError(`${program} failed: ${why}`, false));
    }
  };
  child.on('error', (err: NodeJS.ErrnoException) => {
    spawnError = err.code === 'ENOENT'
      ? new FilterProgramError(`the "${program}" program is not installed (needed for this compression; install the ${program} package)`, true)
      : err;
    duplex.destroy(spawnError);
  });
  child.stdin.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') {
      inputClosed = true;
      const pending = waitingForDrain;
      waitingForDrain = undefined;
      pending?.();
      return;
    }
    if (!spawnError) duplex.destroy(err);
  });
  child.stdout.on('data', (c: Buffer) => { if (!duplex.push(c)) child.stdout.pause(); });
  child.stdout.on('end', () => { stdoutEnded = true; finish(); });
  child.stderr.on('data', (c: Buffer) => stderr.push(c));
  child.on('close', (code, signal) => { exited = { code, signal }; finish(); });
  return duplex;
}

/** Runs `input` through the program once and returns its whole output (one bzip2 block, for example). */
export async function runFilterProgram(program: string, args: readonly string[], input: Buffer): Promise<Buffer> {
  const filter = filterThroughProgram(program, args);
  const out: Buffer[] = [];
  return new Promise<Buffer>((resolve, reject) => {
    filter.on('data', (c: Buffer) => out.push(c));
    filter.on('error', reject);
    filter.on('end', () => resolve(Buffer.concat(out)));
    filter.end(input);
  });
}
