import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { RPM_QF } from './package-header.ts';
import { ToolError, tail } from './run-tool.ts';

/**
 * What rpm and createrepo_c give for one RPM, from one reader process kept for the life of ours
 * (rpm-reader.py): what `rpm -qp --qf RPM_QF` prints for it, and its three index elements as createrepo_c
 * writes them, gzipped there. The tools cost their start (~35 and ~50 ms a run, on this kind of machine), not the reading
 * of a package (~0.3 ms); the reader runs Debian's bindings of the same libraries, so it gives their bytes.
 * A package neither can read is an answer (headerError, partsError); the reader itself failing (not
 * installed, died, hung) is a ToolError, which callers treat as the tool's failure, retried.
 */
export interface RpmRead {
  header?: string;
  headerError?: string;
  /** primary, filelists and other <package> elements, each one gzip member (an IndexEntry's parts) */
  parts?: Buffer[];
  partsError?: string;
}

export interface RpmAsk {
  /** the header (default: yes) */
  header?: boolean;
  /** the index elements, their <location> naming this href */
  href?: string;
  /** the package's sha256, known and checked: the elements are made from its headers, not one more read of it all */
  sha256?: string;
  /** the environment of the reader that answers (a test's failing library on PYTHONPATH) */
  env?: NodeJS.ProcessEnv;
}

/** Debian's python3: its dist-packages hold python3-rpm and python3-createrepo-c, which another python3 on PATH may not. */
const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./rpm-reader.py', import.meta.url));
export const RPM_READER = 'rpm-reader (python3-rpm, python3-createrepo-c)';
/** one package: its header, and one pass of sha256 over it when its digest is not given; this bounds a hung one */
const ANSWER_TIMEOUT_MS = 10 * 60_000;
/** readers kept: each is one core's worth of reading */
const READERS = 2;

interface Asked {
  resolve(r: RpmRead): void;
  reject(e: unknown): void;
}

class Reader {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly asked = new Map<number, Asked>();
  private nextId = 1;
  private stderr = '';
  private timer: NodeJS.Timeout | undefined;
  dead = false;

  constructor(env: NodeJS.ProcessEnv | undefined) {
    const rpmdb = mkdtempSync(join(tmpdir(), 'rd-rpmdb-'));
    this.child = spawn(PYTHON, [SCRIPT, RPM_QF, rpmdb], { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env });
    this.child.stdin.on('error', () => undefined); // a reader that died is reported by 'exit'
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => {
      this.stderr = (this.stderr + d).slice(-8192);
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => this.answered(line));
    // a reader that was killed, or never started, could not remove its rpmdb
    const gone = (e: ToolError) => {
      this.end(e);
      rm(rpmdb, { recursive: true, force: true }).catch(() => undefined);
    };
    this.child.on('error', (e) => gone(new ToolError(RPM_READER, 'spawn', null, e.message)));
    this.child.on('exit', (code, signal) =>
      gone(new ToolError(RPM_READER, 'exit', code, tail(this.stderr) || (signal ? `killed by ${signal}` : 'exited'))),
    );
    this.idle();
  }

  get load(): number {
    return this.asked.size;
  }

  read(path: string, ask: RpmAsk): Promise<RpmRead> {
    const id = this.nextId++;
    return new Promise<RpmRead>((resolve, reject) => {
      this.asked.set(id, { resolve, reject });
      this.busy();
      this.child.stdin.write(`${JSON.stringify({ id, path, header: ask.header ?? true, href: ask.href, sha256: ask.sha256 })}\n`);
    });
  }

  private answered(line: string): void {
    const { id, gzParts, ...read } = JSON.parse(line) as Omit<RpmRead, 'parts'> & { id: number; gzParts?: string[] };
    const asked = this.asked.get(id);
    this.asked.delete(id);
    if (this.asked.size === 0) this.idle();
    else this.armTimer();
    asked?.resolve(gzParts ? { ...read, parts: gzParts.map((b) => Buffer.from(b, 'base64')) } : read);
  }

  /** Every question still open fails with the reader's end; the next one starts a new reader. */
  private end(e: ToolError): void {
    if (this.dead) return;
    this.dead = true;
    clearTimeout(this.timer);
    for (const a of this.asked.values()) a.reject(e);
    this.asked.clear();
  }

  private busy(): void {
    this.child.ref();
    for (const s of this.pipes()) s.ref();
    this.armTimer();
  }

  /** An idle reader does not keep our process alive (a worker stopping, a CLI done). */
  private idle(): void {
    clearTimeout(this.timer);
    this.child.unref();
    for (const s of this.pipes()) s.unref();
  }

  private pipes(): Array<{ ref(): void; unref(): void }> {
    return [this.child.stdin, this.child.stdout, this.child.stderr] as unknown as Array<{ ref(): void; unref(): void }>;
  }

  private armTimer(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.end(new ToolError(RPM_READER, 'timeout', null, tail(this.stderr)));
      this.child.kill('SIGKILL');
    }, ANSWER_TIMEOUT_MS);
    this.timer.unref();
  }
}

/** by the environment they run in: the process's, or a caller's (a test's failing library on PYTHONPATH) */
const readers = new Map<NodeJS.ProcessEnv | undefined, Reader[]>();

/**
 * What `ask` names of the RPM at `path`: its header (as `rpm -qp --qf RPM_QF` prints it) and its index
 * elements. Questions go to the least busy reader; a new one starts while all are busy.
 */
export function readRpm(path: string, ask: RpmAsk = {}): Promise<RpmRead> {
  // a test's environment whose readers have all ended is not kept
  for (const [env, pool] of readers) if (env !== ask.env && pool.every((r) => r.dead)) readers.delete(env);
  const pool = (readers.get(ask.env) ?? []).filter((r) => !r.dead);
  if (pool.length < READERS && pool.every((r) => r.load > 0)) pool.push(new Reader(ask.env));
  readers.set(ask.env, pool);
  return pool.reduce((a, b) => (b.load < a.load ? b : a)).read(path, ask);
}
