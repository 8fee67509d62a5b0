import { availableParallelism } from 'node:os';
import pLimit, { type LimitFunction } from 'p-limit';
import pMap from 'p-map';
import { RdError } from '../errors.ts';
import { debControlFields } from './deb-control.ts';
import { debHeaderOf, type PackageFormat, type PackageHeader, readPackageHeader, rpmHeaderOf } from './package-header.ts';
import { readRpm } from './rpm-reader.ts';

/**
 * The headers of many packages at once (a release's), each exactly what readPackageHeader gives for it,
 * its errors included. The cost of reading a header was starting a process per package: RPMs are read by
 * the long-lived RPM reader (rpm-reader.ts, librpm's own query format); one it cannot read is read again by
 * `rpm -qp`, whose error the ticket then shows, as before. DEBs are read in-process (deb-control.ts) when
 * their shape is plain, else by dpkg-deb as before.
 */
export interface HeaderFile {
  path: string;
  format: PackageFormat;
  /** what errors call the file (its name in release.xml; blobs are named by digest) */
  displayName: string;
}

export async function readPackageHeaders(files: HeaderFile[]): Promise<Array<PromiseSettledResult<PackageHeader>>> {
  // every RPM asked at once: the readers queue them, and a process is started only for one they cannot read
  const again = pLimit(ONE_BY_ONE);
  const rpms = files.map((f) => (f.format === 'rpm' ? settle(() => rpmHeader(f, again)) : undefined));
  const debs = await pMap(
    files,
    async (f) => {
      if (f.format !== 'deb') return undefined;
      const fields = await debControlFields(f.path);
      return settle(async () =>
        fields === undefined ? readPackageHeader(f.path, 'deb', f.displayName) : debHeaderOf(fields, f.displayName),
      );
    },
    { concurrency: Math.max(2, availableParallelism()) },
  );
  return Promise.all(files.map((_, k) => (rpms[k] ?? debs[k])!));
}

/** processes at once for the packages the reader could not read (what check-headers ran for each before) */
const ONE_BY_ONE = 4;

async function rpmHeader(f: HeaderFile, again: LimitFunction): Promise<PackageHeader> {
  const read = await readRpm(f.path).catch((e: unknown) => {
    // the reader, not the package: our problem, retried (as a tool that is missing or hung)
    throw new RdError('RD_INTERNAL', `${f.displayName}: reading the rpm header failed: ${(e as Error).message}`, {
      filename: f.displayName,
    });
  });
  if (read.header === undefined) return again(() => readPackageHeader(f.path, 'rpm', f.displayName));
  return rpmHeaderOf(read.header, f.displayName);
}

const settle = <T>(fn: () => Promise<T>): Promise<PromiseSettledResult<T>> =>
  fn().then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );
