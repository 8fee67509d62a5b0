import { StringDecoder } from 'node:string_decoder';
import { SaxesParser } from 'saxes';
import { parseCapability } from './resolve.ts';

/**
 * What a repository's own metadata says its packages provide, as the provide strings resolve() reads
 * (the syntax of package-header.ts: rpm `name = 1:2.0-3`, deb `name (= 1:2.0-3)`). Streaming: a parser
 * holds one package at a time, never the file; what it keeps is the index. No I/O of its own.
 */

/** Capability name -> the provide strings of that name (what resolve() would match a requirement against). */
export type ProvideIndex = Map<string, string[]>;

/**
 * A copy of the string that shares nothing with the text it was cut from: V8 keeps a substring as a
 * pointer into its parent, and one kept name would otherwise keep a whole 64 KiB chunk of the file alive.
 */
const own = (s: string) => Buffer.from(s, 'utf8').toString('utf8');

export function addProvide(index: ProvideIndex, name: string, provide: string): void {
  const list = index.get(name);
  if (list?.includes(provide)) return;
  const kept = own(provide);
  if (list) list.push(kept);
  else index.set(provide === name ? kept : own(name), [kept]);
}

/** Bytes to text, a multi-byte character split between chunks included. */
export async function* utf8(chunks: AsyncIterable<Buffer>): AsyncIterable<string> {
  const decoder = new StringDecoder('utf8');
  for await (const chunk of chunks) yield decoder.write(chunk);
  yield decoder.end();
}

const RPM_OPS: Record<string, string> = { EQ: '=', LT: '<', LE: '<=', GT: '>', GE: '>=' };

/** `epoch:version-release` as rpm prints it: the epoch only when not 0, the release only when there is one. */
export const rpmEvr = (a: Record<string, string>): string =>
  `${a.epoch && a.epoch !== '0' ? `${a.epoch}:` : ''}${a.ver ?? ''}${a.rel ? `-${a.rel}` : ''}`;

const localName = (name: string) => name.slice(name.indexOf(':') + 1);

/**
 * primary.xml of a YUM repository: every `<rpm:provides>` entry, each package's own `name = evr`, and
 * the `<file>` entries as plain names (primary.xml lists the files people depend on: /usr/bin/*, /etc/*).
 * Returns the number of packages.
 */
export async function readPrimary(text: AsyncIterable<string>, index: ProvideIndex): Promise<number> {
  // no position tracking: a third faster, and a broken file is a broken file wherever it breaks
  const parser = new SaxesParser({ xmlns: false, fileName: 'primary.xml', position: false });
  let pkg: { name: string; evr: string } | undefined;
  let inProvides = false;
  let collected: string | undefined;
  let packages = 0;
  parser.on('opentag', (t) => {
    const tag = localName(t.name);
    if (tag === 'package') pkg = { name: '', evr: '' };
    else if (!pkg) return;
    else if (tag === 'name' || tag === 'file') collected = '';
    else if (tag === 'version') pkg.evr = rpmEvr(t.attributes);
    else if (tag === 'provides') inProvides = true;
    else if (tag === 'entry' && inProvides && t.attributes.name) {
      const { name, flags } = t.attributes;
      const op = flags && RPM_OPS[flags];
      addProvide(index, name, op ? `${name} ${op} ${rpmEvr(t.attributes)}` : name);
    }
  });
  parser.on('text', (s) => {
    if (collected !== undefined) collected += s;
  });
  parser.on('closetag', (t) => {
    const tag = localName(t.name);
    if (!pkg) return;
    if (tag === 'name' && collected !== undefined) pkg.name = collected.trim();
    else if (tag === 'file' && collected) addProvide(index, collected.trim(), collected.trim());
    else if (tag === 'provides') inProvides = false;
    else if (tag === 'package') {
      if (pkg.name) addProvide(index, pkg.name, `${pkg.name} = ${pkg.evr}`);
      packages++;
      pkg = undefined;
    }
    if (tag === 'name' || tag === 'file') collected = undefined;
  });
  for await (const chunk of text) parser.write(chunk);
  parser.close();
  return packages;
}

/** A Depends-style list: comma separated, whitespace normalised (as package-header.ts reads it). */
const list = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim().replace(/\s+/g, ' '))
    .filter(Boolean);

/**
 * An APT Packages file: each stanza's `Package (= Version)` and every Provides entry. Only the three
 * fields are kept (continuation lines of Provides too); everything else is skipped line by line.
 * Returns the number of packages.
 */
export async function readPackages(text: AsyncIterable<string>, index: ProvideIndex): Promise<number> {
  let name = '';
  let version = '';
  let provides = '';
  let inProvides = false;
  let packages = 0;
  const endStanza = () => {
    if (name && version) {
      addProvide(index, name, `${name} (= ${version})`);
      for (const p of list(provides)) addProvide(index, parseCapability(p, 'deb').name, p);
      packages++;
    }
    name = version = provides = '';
    inProvides = false;
  };
  // Fields are matched as the archive tools write them (Package:, Version:, Provides:), the bulk skipped unread.
  const line = (l: string) => {
    const first = l.charCodeAt(0);
    if (first === 32 || first === 9) {
      if (!l.trim()) endStanza();
      else if (inProvides) provides += ` ${l.trim()}`;
      return;
    }
    if (!l) return endStanza();
    inProvides = l.startsWith('Provides:');
    if (inProvides) provides = l.slice(9).trim();
    else if (l.startsWith('Package:')) name = l.slice(8).trim();
    else if (l.startsWith('Version:')) version = l.slice(8).trim();
  };
  let rest = '';
  for await (const chunk of text) {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const l of lines) line(l.endsWith('\r') ? l.slice(0, -1) : l);
  }
  line(rest);
  endStanza();
  return packages;
}

/** Where repomd.xml says primary.xml is (relative to the repository base), and its sha256 when it gives one. */
export function primaryLocation(repomd: string): { href: string; sha256?: string } | undefined {
  const parser = new SaxesParser();
  let inPrimary = false;
  let checksumType: string | undefined;
  let checksum: string | undefined;
  const found: { href?: string; sha256?: string } = {};
  parser.on('opentag', (t) => {
    const tag = localName(t.name);
    if (tag === 'data') inPrimary = t.attributes.type === 'primary';
    else if (inPrimary && tag === 'location') found.href = t.attributes.href;
    else if (inPrimary && tag === 'checksum') [checksumType, checksum] = [t.attributes.type, ''];
  });
  parser.on('text', (s) => {
    if (checksum !== undefined) checksum += s;
  });
  parser.on('closetag', (t) => {
    const tag = localName(t.name);
    if (tag === 'data') inPrimary = false;
    else if (tag === 'checksum' && checksum !== undefined) {
      if (checksumType === 'sha256') found.sha256 = checksum.trim();
      checksum = undefined;
    }
  });
  parser.write(repomd).close();
  return found.href ? { href: found.href, ...(found.sha256 && { sha256: found.sha256 }) } : undefined;
}
