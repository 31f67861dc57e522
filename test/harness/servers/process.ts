/** Spawns a server process and waits for the line that says where it listens. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface StartedProcess {
  proc: ChildProcess;
  /** The first match of `ready` in the output. */
  match: RegExpMatchArray;
  output: () => string;
  stop: () => Promise<void>;
}

export async function startProcess(command: string, args: string[], ready: RegExp, options: SpawnOptions & { timeoutMs?: number; name: string }): Promise<StartedProcess> {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let out = '';
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`${options.name} did not start within ${options.timeoutMs ?? 30_000} ms:\n${out.slice(-3000)}`)); }, options.timeoutMs ?? 30_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) { clearTimeout(timer); resolve(m); }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('error', (err) => { clearTimeout(timer); reject(new Error(`${options.name} could not be started: ${err.message}`)); });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${options.name} exited with ${code} before it was ready:\n${out.slice(-3000)}`)); });
  });
  proc.removeAllListeners('exit');
  // A server that dies under the tests leaves only failures that name a refused connection: say which one
  // died, how, and what it printed last.
  let stopping = false;
  proc.once('exit', (code, signal) => {
    if (!stopping) process.stderr.write(`*** ${options.name} (pid ${proc.pid}) exited unexpectedly (${signal ?? `code ${code}`}); its last output:\n${out.slice(-3000)}\n`);
  });
  // Keep draining output so the pipe never fills and blocks the server. Only while this process's event loop
  // runs: a caller that blocks (execFileSync) while the server serves will see it hang mid-request (moto logs
  // every request; bench/catalog-scale.ts hung that way).
  proc.stdout?.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-20000); });
  proc.stderr?.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-20000); });
  return {
    proc, match, output: () => out,
    stop: () => new Promise<void>((resolve) => {
      stopping = true;
      if (proc.exitCode !== null || proc.signalCode !== null) { resolve(); return; }
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      proc.once('exit', () => { clearTimeout(timer); resolve(); });
      proc.kill('SIGTERM');
    }),
  };
}
