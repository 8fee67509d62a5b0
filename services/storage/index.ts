// The storage API in one import: blobs, package headers, repositories.
export { BlobStore, sha256File } from './blobs.ts';
export { checkPackageAgainstSpec, packageMismatches, readPackageHeader, splitDebVersion } from './package-header.ts';
export type { PackageFormat, PackageHeader, PackageSpec } from './package-header.ts';
export { currentVersion, publishRepository, rollbackRepository } from './publish.ts';
export type { PublishOptions, PublishResult } from './publish.ts';
export { STAGES, assertRepoRef } from './repo-ref.ts';
export type { RepoKind, RepoPackage, RepoRef, Stage } from './repo-ref.ts';
export { clientFileName, clientFileText, clientFileUrl, repoUrl, repoUrlPath } from './repo-url.ts';
