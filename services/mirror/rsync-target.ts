import { copyFile, link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RdError } from '../errors.ts';
import { errCode } from '../storage/blobs.ts';
import { runTool, ToolError } from '../storage/run-tool.ts';
import type { Listed, Upload } from './plan.ts';
import type { MirrorTarget, TargetSpec } from './target.ts';

type RsyncSpec = Extract<TargetSpec, { kind: 'rsync' }>;

/**
 * A directory reached by rsync: a daemon module (rsync://[user[:password]@]host[:port]/module/path) or a
 * path over ssh (ssh://[user@]host[:port]/path). Files go up from a scratch tree of hard links, so rsync
 * sends exactly the planned files, each under its mirror path, and files of one content once (-H).
 * rsync writes each file under a temporary name and renames it: a reader sees a whole file or none.
 */
export class RsyncTarget implements MirrorTarget {
  private readonly dest: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly shell: string[];

  private readonly scratchDir: string;
  private readonly timeoutMs: number;

  constructor(spec: RsyncSpec, scratchDir: string, timeoutMs = 30 * 60_000) {
    this.scratchDir = scratchDir;
    this.timeoutMs = timeoutMs;
    const u = new URL(spec.url);
    const path = decodeURIComponent(u.pathname).replace(/\/+$/, '');
    this.env = { ...process.env, RSYNC_PASSWORD: decodeURIComponent(u.password) || undefined };
    const user = u.username ? `${decodeURIComponent(u.username)}@` : '';
    if (u.protocol === 'ssh:') {
      this.dest = `${user}${u.hostname}:${path}/`;
      this.shell = ['-e', `ssh -o BatchMode=yes${u.port ? ` -p ${u.port}` : ''}`];
    } else {
      this.dest = `rsync://${user}${u.host}${path}/`;
      this.shell = [];
    }
  }

  async list(): Promise<Listed[]> {
    let stdout: string;
    try {
      ({ stdout } = await this.rsync(['--list-only', '-r', '--no-h', this.dest], { maxStdoutBytes: 512 * 2 ** 20 }));
    } catch (e) {
      // a first sync: the directory is made by the first upload
      if (e instanceof RdError && /change_dir .* failed: No such file or directory/.test(String(e.details.stderr))) return [];
      throw e;
    }
    const out: Listed[] = [];
    for (const line of stdout.split('\n')) {
      const m = /^-\S{9}\s+(\d+) (\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d) (.+)$/.exec(line);
      if (m) out.push({ path: m[3]!, size: Number(m[1]), tag: `${m[1]}@${m[2]}` });
    }
    return out;
  }

  async put(files: Upload[], landed: (path: string, tag: string) => Promise<void>): Promise<void> {
    if (!files.length) return;
    const stage = await this.scratch();
    try {
      for (const f of files) {
        const at = join(stage, f.path);
        await mkdir(dirname(at), { recursive: true });
        if ('bytes' in f.source) await writeFile(at, f.source.bytes);
        else await linkOrCopy(f.source.file, at);
      }
      const list = files.map((f) => f.path).join('\0');
      // --ignore-times: the plan decided what goes up; rsync must not skip a changed file of the same size and mtime
      await this.rsync(['-rtH', '--ignore-times', '--from0', '--files-from=-', `${stage}/`, this.dest], { input: list });
    } finally {
      await rm(stage, { recursive: true, force: true });
    }
    // the tags are what the target's own listing shows (its clock, its time zone)
    const tags = new Map((await this.list()).map((l) => [l.path, l.tag]));
    for (const f of files) {
      const tag = tags.get(f.path);
      if (tag === undefined) throw new RdError('RD_MIRROR_UNAVAILABLE', `${this.dest}: ${f.path} is not there after rsync sent it`);
      await landed(f.path, tag);
    }
  }

  /**
   * Deletes exactly `paths`: rsync --delete from an empty tree holding their directories, with filter rules
   * that include only those files and their parents, so nothing else on the target is touched.
   */
  async remove(paths: string[]): Promise<void> {
    const safe = paths.filter((p) => !/[*?[\\\n]/.test(p));
    if (!safe.length) return;
    const stage = await this.scratch();
    try {
      const rules = new Set<string>();
      for (const p of safe) {
        const parts = p.split('/');
        for (let i = 1; i < parts.length; i++) rules.add(`+ /${parts.slice(0, i).join('/')}/`);
        await mkdir(join(stage, ...parts.slice(0, -1)), { recursive: true });
      }
      const filter = [...rules, ...safe.map((p) => `+ /${p}`), '- *'].join('\n');
      await writeFile(join(stage, '.rules'), `${filter}\n`);
      await this.rsync(['-r', '--delete', `--filter=merge ${join(stage, '.rules')}`, '--exclude=/.rules', `${stage}/`, this.dest], {});
    } finally {
      await rm(stage, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {}

  private async scratch(): Promise<string> {
    await mkdir(this.scratchDir, { recursive: true });
    return mkdtemp(join(this.scratchDir, `mirror-${process.pid}-`)); // the pid: a sweep at start knows a dead one's
  }

  private async rsync(args: string[], opts: { input?: string; maxStdoutBytes?: number }) {
    try {
      return await runTool('rsync', [...this.shell, '--no-motd', ...args], { env: this.env, timeoutMs: this.timeoutMs, ...opts });
    } catch (e) {
      if (!(e instanceof ToolError)) throw e;
      // rsync's exit codes: 5 = refused by the daemon (auth, module), 10 = socket I/O, 12 = protocol stream, 30/35 = timeout
      const away = e.failure === 'timeout' || e.failure === 'spawn' || [10, 12, 30, 35, 255].includes(e.exitCode ?? -1);
      throw new RdError(away ? 'RD_MIRROR_UNAVAILABLE' : 'RD_MIRROR_REFUSED', `${this.dest}: ${e.message}`, {
        exitCode: e.exitCode,
        stderr: e.stderrTail,
      });
    }
  }
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (e) {
    if (errCode(e) !== 'EXDEV' && errCode(e) !== 'EPERM') throw e;
    await copyFile(from, to);
  }
}
