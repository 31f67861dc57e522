/** Runs the compiled CLI (what users run) as a child process and captures exit code and output. */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from './postgres.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The commands under test: this tree's build, or another build's bin directory (PGSTOW_TEST_BIN_DIR), e.g. to show
 * that a regression test fails on the commit before the fix.
 */
export const BIN_DIR = process.env.PGSTOW_TEST_BIN_DIR || path.join(REPO_ROOT, 'dist', 'src', 'cli', 'bin');

export function binPath(program: string): string {
  return path.join(BIN_DIR, `${program}.js`);
}

/** Shell command line for archive_command/restore_command (runs as postgres; node and dist are world-readable). */
export function binCommandLine(program: string): string {
  return `${process.execPath} ${binPath(program)}`;
}

export async function runCli(program: string, args: readonly string[], options: { env?: Record<string, string | undefined>; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, ...options.env })) if (v !== undefined) env[k] = v;
    const child = spawn(process.execPath, [binPath(program), ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${program} ${args.join(' ')} timed out\n${stderr}`)); }, options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }); });
    child.stdin.end(options.input ?? '');
  });
}
