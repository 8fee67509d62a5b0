/**
 * EGI release.xml v0.2 -> ReleaseMetadata. Reading is in xml-tree.ts (safety), element checks are driven by the
 * table in schemas/release-v0.2.ts (schema-check.ts); this file maps the checked tree and applies the rules that
 * span several fields. Pure: no I/O, no logging. Every error is an RdError naming the element and its line.
 */
import { NAMESPACES, RELEASE_V02, XML_LIMITS } from '../../schemas/release-v0.2.ts';
import { checkDocument, type Checked } from './schema-check.ts';
import { readXmlTree, type XmlElement } from './xml-tree.ts';
import { quote, xmlError } from './xml-text.ts';

export interface PackageSpec {
  filename: string;
  pkgname: string;
  version: string;
  release: string;
  arch: string;
  pkgtype: string;
  url?: string;
  /** lower-case hex */
  sha256?: string;
  line: number;
  format: 'rpm' | 'deb';
}

/** A part of the file kept as it came (repository:* and repofile:* elements); names use the canonical prefixes. */
export interface XmlPart {
  name: string;
  line: number;
  attributes: Record<string, string>;
  text: string;
  children: XmlPart[];
}

export interface ReleaseMetadata {
  productName: string;
  productShortName: string;
  technologyProvider: string;
  technologyProviderShortName: string;
  contact: string;
  technicalContact: string;
  description: string;
  documentationLink: string;
  /** YYYYMMDD */
  isoDate: string;
  incremental: boolean;
  emergency: boolean;
  majorVersion: string;
  minorVersion: string;
  revisionVersion: string;
  /** major.minor.revision */
  version: string;
  releaseNotes: string;
  changeLog: string;
  synchProtocol: string;
  /** null for n/a: every package then comes from its own url */
  synchURL: string | null;
  /** lower-case hex sha256 of the bundle at synchURL (releasedesk extension, element release:synchSha256) */
  synchSha256?: string;
  targetPlatform: string;
  targetArch: string;
  capabilities: string[];
  packages: PackageSpec[];
  repoKind: 'yum' | 'apt';
  /** repository:yumRepository / debRepository and repofile:yumRepofile / debRepofile, kept loosely */
  repositoryParts: XmlPart[];
}

export function parseReleaseXml(input: string | Buffer, fileName = 'release.xml'): ReleaseMetadata {
  const root = readXmlTree(input, fileName, XML_LIMITS);
  const doc = checkDocument(root, RELEASE_V02, fileName);
  const meta = toMetadata(doc);
  checkRules(meta, doc, fileName);
  return meta;
}

const all = (node: Checked | undefined, key: string): readonly Checked[] => node?.children.get(key) ?? [];
const one = (node: Checked | undefined, key: string): Checked | undefined => all(node, key)[0];
const text = (node: Checked | undefined, key: string): string => one(node, key)?.value ?? '';

function toMetadata(doc: Checked): ReleaseMetadata {
  const r = (name: string) => text(doc, `release:${name}`);
  const umd = one(doc, 'UMDmeta:UMDmeta');
  const synchURL = r('synchURL').toLowerCase() === 'n/a' ? null : r('synchURL');
  const synchSha256 = one(doc, 'release:synchSha256')?.value;
  const packages = all(one(umd, 'UMDmeta:packages'), 'UMDmeta:package').map((p) => toPackage(p));
  return {
    productName: r('productName'),
    productShortName: r('productShortName'),
    technologyProvider: r('technologyProvider'),
    technologyProviderShortName: r('technologyProviderShortName'),
    contact: r('contact'),
    technicalContact: r('technicalContact'),
    description: r('description'),
    documentationLink: r('documentationLink'),
    isoDate: r('ISODate'),
    incremental: r('incremental') === 'true',
    emergency: r('emergency') === 'true',
    majorVersion: r('majorVersion'),
    minorVersion: r('minorVersion'),
    revisionVersion: r('revisionVersion'),
    version: `${r('majorVersion')}.${r('minorVersion')}.${r('revisionVersion')}`,
    releaseNotes: r('releaseNotes'),
    changeLog: r('changeLog'),
    synchProtocol: r('synchProtocol'),
    synchURL,
    ...(synchSha256 !== undefined && { synchSha256 }),
    targetPlatform: text(umd, 'UMDmeta:targetPlatform'),
    targetArch: text(umd, 'UMDmeta:targetArch'),
    capabilities: all(umd, 'UMDmeta:capability')
      .map((c) => c.value)
      .filter((c) => c !== ''),
    packages,
    repoKind: packages.every((p) => p.format === 'deb') ? 'apt' : 'yum',
    repositoryParts: [...doc.children.entries()]
      .filter(([key]) => key.startsWith('repository:') || key.startsWith('repofile:'))
      .flatMap(([, nodes]) => nodes.map((n) => toPart(n.element)))
      .sort((a, b) => a.line - b.line),
  };
}

function toPackage(p: Checked): PackageSpec {
  const a = p.attributes;
  const url = a.url === undefined || a.url === '' || a.url.toLowerCase() === 'n/a' ? undefined : a.url;
  return {
    filename: a.filename!,
    pkgname: a.pkgname!,
    version: a.version!,
    release: a.release!,
    arch: a.arch!,
    pkgtype: a.pkgtype ?? '',
    ...(url !== undefined && { url }),
    ...(a.sha256 !== undefined && { sha256: a.sha256 }),
    line: p.element.line,
    format: a.filename!.endsWith('.deb') ? 'deb' : 'rpm',
  };
}

const CANONICAL = new Map<string, string>(Object.entries(NAMESPACES).map(([prefix, uri]) => [uri, prefix]));

/** Loose parts keep their content; names get the canonical prefix of their namespace (foreign ones stay as written). */
function toPart(el: XmlElement): XmlPart {
  const prefix = CANONICAL.get(el.ns);
  return {
    name: prefix === undefined ? el.qname : `${prefix}:${el.local}`,
    line: el.line,
    attributes: { ...el.attributes },
    text: el.text.trim(),
    children: el.children.map(toPart),
  };
}

/** Rules that span several fields. */
function checkRules(meta: ReleaseMetadata, doc: Checked, file: string): void {
  const synch = one(doc, 'release:synchURL')!.element;
  const synchIs = `<${synch.qname}> (line ${synch.line}) is n/a`;
  const digest = one(doc, 'release:synchSha256')?.element;
  if (meta.synchURL === null && digest) {
    throw xmlError('RD_XML_INVALID', file, digest.line, `<${digest.qname}> is given but ${synchIs}: there is no bundle to check`, {
      element: digest.qname,
    });
  }
  const nodes = all(one(one(doc, 'UMDmeta:UMDmeta'), 'UMDmeta:packages'), 'UMDmeta:package');
  const first = meta.packages[0]!;
  const byName = new Map<string, PackageSpec>();
  for (const [i, p] of meta.packages.entries()) {
    const element = nodes[i]!.element.qname;
    const fail = (message: string, extra: Record<string, unknown> = {}) =>
      xmlError('RD_XML_INVALID', file, p.line, `<${element}> ${quote(p.filename)} ${message}`, { element, filename: p.filename, ...extra });
    const twin = byName.get(p.filename);
    if (twin) throw fail(`is listed twice, on lines ${twin.line} and ${p.line}`, { lines: [twin.line, p.line] });
    byName.set(p.filename, p);
    if (p.format !== first.format) {
      throw fail(
        `is a ${p.format} package but ${quote(first.filename)} (line ${first.line}) is ${first.format}; one release holds one package format`,
      );
    }
    if (meta.synchURL === null && p.url === undefined) {
      throw fail(`has no url, and ${synchIs}: each package needs an http(s) url, or synchURL a bundle`);
    }
    if (p.format === 'rpm' && p.release === '') throw fail('has an empty release; only a native deb package may');
  }
}
