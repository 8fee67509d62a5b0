import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A site with the real dnf: a throw-away --installroot that keeps what was installed between calls, one
 * repository with repo_gpgcheck=1 and the given key, skip_if_unavailable=0 (Debian's default would skip a
 * repository that fails verification and exit 0), no host configuration read.
 */
export interface DnfSite {
  /** runs dnf with these arguments; resolves with exit code and output, never throws on exit code */
  dnf(...args: string[]): Promise<{ code: number; output: string }>;
  close(): Promise<void>;
}

export async function dnfSite(repoUrl: string, gpgkey: string): Promise<DnfSite> {
  const dir = await mkdtemp(join(tmpdir(), 'rd-dnf-site-'));
  await mkdir(join(dir, 'root'), { recursive: true });
  await writeFile(join(dir, 'dnf.conf'), '[main]\ninstall_weak_deps=0\nmetadata_expire=0\nskip_if_unavailable=0\ngpgcheck=0\n');
  const key = gpgkey.includes('://') ? gpgkey : `file://${gpgkey}`;
  const base = [
    '-y',
    `--installroot=${join(dir, 'root')}`,
    '--releasever=1',
    `--config=${join(dir, 'dnf.conf')}`,
    '--setopt=skip_if_unavailable=0',
    '--disableplugin=*',
    '--setopt=reposdir=/dev/null',
    `--repofrompath=site,${repoUrl}`,
    '--disablerepo=*',
    '--enablerepo=site',
    '--setopt=site.repo_gpgcheck=1',
    `--setopt=site.gpgkey=${key}`,
    '--setopt=site.gpgcheck=0',
  ];
  return {
    dnf: (...args) =>
      new Promise((done) => {
        execFile('dnf', [...base, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
          done({ code, output: `${stdout}${stderr}` });
        });
      }),
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
