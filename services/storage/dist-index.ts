import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gzip, gzipSync } from 'node:zlib';
import { APT_COMPONENT, type DistRef } from './dist-ref.ts';
import { STAGE_TITLES, type RepoRef } from './repo-ref.ts';

/**
 * The index files of a distribution, from its members' recorded entries (index-entries.ts): bytes
 * concatenated, one hash per file, nothing compressed but the few header lines. Pure: the caller writes the
 * files, signs and swaps (dist-publish.ts).
 */
export interface IndexFile {
  /** relative to the version dir */
  path: string;
  bytes: Buffer;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

const YUM_DOCS = [
  {
    type: 'primary',
    open: (n: number) =>
      `<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="${n}">`,
    close: '</metadata>',
  },
  {
    type: 'filelists',
    open: (n: number) => `<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="${n}">`,
    close: '</filelists>',
  },
  { type: 'other', open: (n: number) => `<otherdata xmlns="http://linux.duke.edu/metadata/other" packages="${n}">`, close: '</otherdata>' },
] as const;

/** Extra repodata (updateinfo) given as its uncompressed XML text. */
export interface ExtraMetadata {
  type: string;
  xml: string;
}

/**
 * repodata/: primary, filelists, other (+ extras such as updateinfo), each named by its checksum like
 * createrepo_c's, and repomd.xml. open-checksum is left out: dnf verifies the files it downloads by
 * `checksum`, and computing it would mean decompressing every entry.
 */
export async function yumRepodata(parts: Buffer[][], extras: ExtraMetadata[], revision: number): Promise<IndexFile[]> {
  const now = Math.floor(Date.now() / 1000);
  const files: IndexFile[] = [];
  const data: string[] = [];
  const add = (type: string, bytes: Buffer) => {
    const sum = sha256(bytes);
    const path = `repodata/${sum}-${type}.xml.gz`;
    files.push({ path, bytes });
    data.push(
      `  <data type="${type}">\n    <checksum type="sha256">${sum}</checksum>\n    <location href="${path}"/>\n` +
        `    <timestamp>${now}</timestamp>\n    <size>${bytes.length}</size>\n  </data>`,
    );
  };
  YUM_DOCS.forEach((doc, i) => {
    const head = gzipSync(`<?xml version="1.0" encoding="UTF-8"?>\n${doc.open(parts.length)}\n`);
    add(doc.type, Buffer.concat([head, ...parts.map((p) => p[i]!), gzipSync(`${doc.close}\n`)]));
  });
  for (const x of extras) add(x.type, await promisify(gzip)(x.xml));
  const repomd = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">',
    `  <revision>${revision}</revision>`,
    ...data,
    '</repomd>',
    '',
  ].join('\n');
  files.push({ path: 'repodata/repomd.xml', bytes: Buffer.from(repomd) });
  return files;
}

/** One arch's Packages.gz of a suite, and the hash and size of what it decompresses to (Release lists both). */
export interface AptPackagesIndex {
  arch: string;
  gz: Buffer;
  plain: { sha256: string; size: number };
}

export async function aptPackages(arch: string, stanzas: Buffer[]): Promise<AptPackagesIndex> {
  const { gz, plain } = await packagesBytes(stanzas);
  return { arch, gz, plain: { sha256: sha256(plain), size: plain.length } };
}

/** Packages.gz is the stanzas' gzip members as they are; Packages is decompressed once, for its hash. */
async function packagesBytes(stanzas: Buffer[]): Promise<{ gz: Buffer; plain: Buffer }> {
  const gz = Buffer.concat(stanzas);
  return gz.length ? { gz, plain: await promisify(gunzip)(gz) } : { gz: gzipSync(''), plain: Buffer.alloc(0) };
}

/**
 * The suite's Release. apt checks every index file against it, the uncompressed Packages too (it hashes
 * what it decompressed), so both are listed although only Packages.gz is served.
 */
export function aptRelease(d: DistRef, indexes: AptPackagesIndex[]): string {
  const sorted = indexes.toSorted((a, b) => a.arch.localeCompare(b.arch));
  return releaseText(
    [
      ['Origin', 'releasedesk'],
      ['Label', `releasedesk ${d.platform}`],
      ['Suite', d.stage],
      ['Codename', d.stage],
      ['Date', new Date().toUTCString()],
      ['Architectures', sorted.map((ix) => ix.arch).join(' ')],
      ['Components', APT_COMPONENT],
      ['Description', `releasedesk ${STAGE_TITLES[d.stage]} for ${d.platform}`],
    ],
    sorted.flatMap((ix) => {
      const base = `${APT_COMPONENT}/binary-${ix.arch}/Packages`;
      return [
        { path: base, ...ix.plain },
        { path: `${base}.gz`, sha256: sha256(ix.gz), size: ix.gz.length },
      ];
    }),
  );
}

/**
 * A product's flat repository (`deb URL ./`): Packages, Packages.gz and the Release over both, from the
 * recorded stanzas, whose `Filename: pool/...` resolve through the repository's pool link.
 */
export async function aptFlatRepo(repo: RepoRef, stanzas: Buffer[]): Promise<IndexFile[]> {
  const { gz, plain } = await packagesBytes(stanzas);
  const release = releaseText(
    [
      ['Origin', 'releasedesk'],
      ['Label', repo.product],
      ['Suite', repo.stage],
      ['Codename', repo.stage],
      ['Date', new Date().toUTCString()],
      ['Description', `${repo.product} (${repo.stage})`],
    ],
    [
      { path: 'Packages', sha256: sha256(plain), size: plain.length },
      { path: 'Packages.gz', sha256: sha256(gz), size: gz.length },
    ],
  );
  return [
    { path: 'Packages', bytes: plain },
    { path: 'Packages.gz', bytes: gz },
    { path: 'Release', bytes: Buffer.from(release) },
  ];
}

function releaseText(fields: Array<[string, string]>, files: Array<{ path: string; sha256: string; size: number }>): string {
  return [
    ...fields.map(([k, v]) => `${k}: ${v}`),
    'SHA256:',
    ...files.map((f) => ` ${f.sha256} ${String(f.size).padStart(16)} ${f.path}`),
    '',
  ].join('\n');
}
