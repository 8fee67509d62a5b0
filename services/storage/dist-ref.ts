import { join } from 'node:path';
import { RdError } from '../errors.ts';
import { inside, type RepoPaths } from './repo-layout.ts';
import { STAGES, type RepoKind, type Stage } from './repo-ref.ts';

/**
 * A distribution repository: one per stage, kind, platform and arch, holding the current release of every
 * product there (EGI UMD's per-release-platform-arch repositories, Fedora's updates-testing / updates).
 * Its indexes point into one shared pool of package files; only indexes change when releases move.
 */
export interface DistRef {
  stage: Stage;
  kind: RepoKind;
  /** release.xml targetPlatform, e.g. el9, ubuntu22 */
  platform: string;
  /** release.xml targetArch, e.g. x86_64; APT names it as dpkg does (aptArch) */
  arch: string;
}

// release.xml's token (schemas/release-v0.2.ts), validated there; checked again because they become paths.
const NAME = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._+-]{0,49}$/;

export function assertDistRef(d: DistRef): void {
  if (!STAGES.includes(d.stage)) throw new RdError('RD_INTERNAL', `unknown stage ${JSON.stringify(d.stage)}`);
  if (d.kind !== 'yum' && d.kind !== 'apt') throw new RdError('RD_INTERNAL', `unknown repository kind ${JSON.stringify(d.kind)}`);
  if (!NAME.test(d.platform)) throw new RdError('RD_XML_INVALID', `targetPlatform ${JSON.stringify(d.platform)} is not a usable name`);
  if (!NAME.test(d.arch)) throw new RdError('RD_XML_INVALID', `targetArch ${JSON.stringify(d.arch)} is not a usable name`);
}

/** rpm's names of the architectures dpkg calls otherwise: apt asks for binary-<dpkg arch>. */
const DPKG_ARCH: Record<string, string> = { x86_64: 'amd64', aarch64: 'arm64', i686: 'i386', ppc64le: 'ppc64el', noarch: 'all' };
export const aptArch = (arch: string): string => DPKG_ARCH[arch] ?? arch;

/** The one APT component of a distribution's suites. */
export const APT_COMPONENT = 'main';

/**
 * On-disk layout below STORAGE_DIR/repos/dist (served at PUBLIC_URL/repos/dist/):
 *   pool/<sha256[0:2]>/<sha256>/<filename>            every package once, append-only; the path is unique per content
 *   yum/<platform>/<arch>/<stage>                      symlink -> ../../../../.versions/... (repodata/, pool -> the pool)
 *   apt/<platform>/pool                               symlink -> ../../pool: the archive root of the platform
 *   apt/<platform>/dists/<stage>                       symlink -> a version: Release, InRelease, Release.gpg, main/binary-<arch>/
 *   .versions/<kind>/<platform>[/<arch>]/<stage>/<n>   the immutable versions, as for product repositories
 * APT keeps one suite per stage with every arch of the platform in it, so its unit of publication is
 * (stage, platform); a YUM repository is one arch.
 */
export function distPaths(storageDir: string, d: DistRef): RepoPaths {
  assertDistRef(d);
  const root = distRoot(storageDir);
  const unit = d.kind === 'yum' ? ['yum', d.platform, d.arch, d.stage] : ['apt', d.platform, d.stage];
  return {
    live: d.kind === 'yum' ? inside(root, ...unit) : inside(root, 'apt', d.platform, 'dists', d.stage),
    versions: inside(root, '.versions', ...unit),
  };
}

export const distRoot = (storageDir: string): string => join(storageDir, 'repos', 'dist');

/** Where a package lives in the pool, relative to the pool's parent (the href and Filename indexes carry). */
export const poolHref = (sha256: string, filename: string): string => `pool/${sha256.slice(0, 2)}/${sha256}/${filename}`;

/** The root a client's URL names: for YUM the repository, for APT the platform's archive. */
export function distClientRoot(d: DistRef): string {
  return d.kind === 'yum' ? `repos/dist/yum/${d.platform}/${d.arch}/${d.stage}/` : `repos/dist/apt/${d.platform}/`;
}

/** A lock per unit of publication: the same for every arch of an APT platform. */
export const distUnit = (d: DistRef): string =>
  d.kind === 'yum' ? `yum/${d.platform}/${d.arch}/${d.stage}` : `apt/${d.platform}/${d.stage}`;
