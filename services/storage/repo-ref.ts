import { RdError } from '../errors.ts';

/** Which repository: one per stage and product; a product is either YUM or APT (one platform). */
export const STAGES = ['unverified', 'stage-rollout', 'production'] as const;
export type Stage = (typeof STAGES)[number];
/** How people call each stage (comments, console). */
export const STAGE_TITLES: Record<Stage, string> = { unverified: 'Unverified', 'stage-rollout': 'Stage-Rollout', production: 'Production' };
export type RepoKind = 'yum' | 'apt';

export interface RepoRef {
  stage: Stage;
  /** release.xml productShortName, e.g. EXAMPLETP.frontier-squid.centos7.x86_64 */
  product: string;
  kind: RepoKind;
}

/** A package entry of a repository: the blob and the name clients download it under. */
export interface RepoPackage {
  sha256: string;
  filename: string;
}

// The product becomes a directory and a URL segment: no separators, no leading dot, bounded.
const PRODUCT = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$/;
// Package filenames as dnf/apt fetch them: a plain name with the format's extension. '%', ':'
// and spaces are refused because clients would URL-decode or split them.
const FILENAME: Record<RepoKind, RegExp> = {
  yum: /^[A-Za-z0-9_][A-Za-z0-9._+~^-]{0,250}\.rpm$/,
  apt: /^[A-Za-z0-9_][A-Za-z0-9._+~-]{0,250}\.deb$/,
};

/**
 * Both come from release.xml and are validated there; checked again here because they become
 * paths, and a path that escapes STORAGE_DIR must be impossible whatever the caller did.
 */
export function assertRepoRef(repo: RepoRef): void {
  if (!STAGES.includes(repo.stage)) throw new RdError('RD_INTERNAL', `unknown stage ${JSON.stringify(repo.stage)}`);
  if (repo.kind !== 'yum' && repo.kind !== 'apt') throw new RdError('RD_INTERNAL', `unknown repository kind ${JSON.stringify(repo.kind)}`);
  if (!PRODUCT.test(repo.product)) {
    throw new RdError(
      'RD_XML_INVALID',
      `productShortName ${JSON.stringify(repo.product)} is not usable as a repository name (letters, digits, . _ + -)`,
    );
  }
}

export function assertPackageFilename(kind: RepoKind, filename: string): void {
  if (!FILENAME[kind].test(filename)) {
    throw new RdError(
      'RD_XML_INVALID',
      `package filename ${JSON.stringify(filename)} is not a plain ${kind === 'yum' ? '.rpm' : '.deb'} file name`,
      {
        filename,
      },
    );
  }
}
