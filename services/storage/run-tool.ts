import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';

/**
 * Runs an external tool (rpm, dpkg-deb, createrepo_c, apt-ftparchive, gpg) without a shell, with a hard
 * timeout, and keeps only the tail of stderr: that tail is what an operator needs in an error, and
 * a tool that floods stderr must not grow our memory.
 */
export interface ToolOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** Write stdout straight to this file (large outputs such as an APT Packages index). */
  stdoutFile?: string;
  /** Cap of captured stdout; the tool is killed beyond it. */
  maxStdoutBytes?: number;
  /** Written to the tool's stdin (a passphrase: never on the command line, where ps shows it). */
  input?: string;
}

export type ToolFailure = 'exit' | 'timeout' | 'spawn' | 'output';

export class ToolError extends Error {
  override name = 'ToolError';
  readonly tool: string;
  readonly failure: ToolFailure;
  readonly exitCode: number | null;
  readonly stderrTail: string;

  constructor(tool: string, failure: ToolFailure, exitCode: number | null, stderrTail: string) {
    super(`${tool} ${failure === 'exit' ? `exited with ${exitCode}` : failure}${stderrTail ? `: ${stderrTail}` : ''}`);
    this.tool = tool;
    this.failure = failure;
    this.exitCode = exitCode;
    this.stderrTail = stderrTail;
  }
}

const STDERR_KEEP = 8 * 1024;

/** Last few non-empty lines, at most `max` characters: enough for a ticket comment or a log line. */
export function tail(text: string, lines = 5, max = 1000): string {
  const kept = text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean)
    .slice(-lines)
    .join('\n');
  return kept.length > max ? `…${kept.slice(-max)}` : kept;
}

export async function runTool(cmd: string, args: string[], opts: ToolOptions): Promise<{ stdout: string; stderr: string }> {
  const out = opts.stdoutFile ? await open(opts.stdoutFile, 'w', 0o644) : undefined;
  try {
    return await spawnAndWait(cmd, args, opts, out?.fd);
  } finally {
    if (out) {
      await out.sync();
      await out.close();
    }
  }
}

function spawnAndWait(cmd: string, args: string[], opts: ToolOptions, stdoutFd?: number): Promise<{ stdout: string; stderr: string }> {
  const maxStdout = opts.maxStdoutBytes ?? 16 * 2 ** 20;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', stdoutFd ?? 'pipe', 'pipe'],
    });
    if (opts.input !== undefined) {
      child.stdin?.on('error', () => undefined); // a tool that exits without reading must not crash us (EPIPE)
      child.stdin?.end(opts.input);
    }
    let stdout = '';
    let stderr = '';
    let failure: ToolFailure | undefined;
    const kill = (why: ToolFailure) => {
      failure ??= why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill('timeout'), opts.timeoutMs);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (stdout.length > maxStdout) kill('output');
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-STDERR_KEEP);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new ToolError(cmd, 'spawn', null, e.message));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (failure) reject(new ToolError(cmd, failure, code, tail(stderr)));
      else if (code !== 0) reject(new ToolError(cmd, 'exit', code, tail(stderr)));
      else resolve({ stdout, stderr });
    });
  });
}
