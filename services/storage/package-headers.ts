import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import pMap from 'p-map';
import { debControlFields } from './deb-control.ts';
import { debHeaderOf, type PackageFormat, type PackageHeader, RPM_QF, readPackageHeader, rpmHeaderOf, rpmQuery } from './package-header.ts';

/**
 * The headers of many packages at once (a release's), each exactly what readPackageHeader gives for it,
 * its errors included. The cost of reading a header was starting a process per package: RPMs are read by
 * one `rpm -qp` per CHUNK packages; a chunk rpm does not read whole (a package it cannot read) is read again
 * package by package, which gives each package its own result and error, as before. DEBs are read in-process
 * (deb-control.ts) when their shape is plain, else by dpkg-deb as before.
 */
export interface HeaderFile {
  path: string;
  format: PackageFormat;
  /** what errors call the file (its name in release.xml; blobs are named by digest) */
  displayName: string;
}

const CHUNK = 200;
/** rpm reads only headers: a chunk takes well under a second; this bounds a hung one */
const CHUNK_TIMEOUT_MS = 120_000;

export async function readPackageHeaders(files: HeaderFile[]): Promise<Array<PromiseSettledResult<PackageHeader>>> {
  const out: Array<PromiseSettledResult<PackageHeader>> = new Array(files.length);
  const rpms = files.flatMap((f, i) => (f.format === 'rpm' ? [i] : []));
  const tasks: Array<() => Promise<void>> = [];
  for (let i = 0; i < rpms.length; i += CHUNK) {
    const at = rpms.slice(i, i + CHUNK);
    tasks.push(async () => {
      const got = await rpmChunk(at.map((k) => files[k]!));
      at.forEach((k, j) => {
        out[k] = got[j]!;
      });
    });
  }
  files.forEach((f, k) => {
    if (f.format !== 'deb') return;
    tasks.push(async () => {
      const fields = await debControlFields(f.path);
      out[k] = await settle(async () =>
        fields === undefined ? readPackageHeader(f.path, 'deb', f.displayName) : debHeaderOf(fields, f.displayName),
      );
    });
  });
  await inParallel(tasks, Math.max(2, availableParallelism()));
  return out;
}

async function rpmChunk(files: HeaderFile[]): Promise<Array<PromiseSettledResult<PackageHeader>>> {
  // a line no header field can forge, between packages
  const mark = `@@releasedesk-package-${randomBytes(8).toString('hex')}@@`;
  const parts = await rpmQuery(
    `${mark}\\n${RPM_QF}`,
    files.map((f) => f.path),
    CHUNK_TIMEOUT_MS,
  ).then(
    (stdout) => stdout.split(`${mark}\n`),
    () => null,
  );
  // rpm read them all, in order (exit 0; a manifest file would have added packages: read one by one)
  if (parts && parts[0] === '' && parts.length === files.length + 1)
    return Promise.all(parts.slice(1).map((text, i) => settle(async () => rpmHeaderOf(text, files[i]!.displayName))));
  return pMap(files, (f) => settle(() => readPackageHeader(f.path, 'rpm', f.displayName)), { concurrency: ONE_BY_ONE });
}

/** processes at once when reading package by package (what check-headers did before) */
const ONE_BY_ONE = 4;

const settle = <T>(fn: () => Promise<T>): Promise<PromiseSettledResult<T>> =>
  fn().then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );

async function inParallel(tasks: Array<() => Promise<void>>, limit: number): Promise<void> {
  await pMap(tasks, (t) => t(), { concurrency: limit });
}
