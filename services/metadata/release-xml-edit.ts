/**
 * Writes a few values into a release.xml that parseReleaseXml accepted, keeping everything else as it came:
 * an exported release carries each package's sha256, and the copy a receiving desk attaches names the
 * bundle (synchURL, synchSha256). fast-xml-parser's ordered mode round-trips the document (attributes,
 * entities, comments and whitespace as written), so only the edited values change. Pure. The result is for
 * parseReleaseXml again: the edit is checked by the same rules as any other release.xml.
 */
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { NAMESPACES } from '../../schemas/release-v0.2.ts';
import { RdError } from '../errors.ts';

export interface ReleaseXmlEdit {
  /** filename -> lower-case hex digest, for every package of the release */
  sha256ByFile?: Record<string, string>;
  /** the bundle the copy is to be fetched from */
  synch?: { url: string; sha256: string };
}

type Node = Record<string, unknown> & { ':@'?: Record<string, string> };

const OPTIONS = {
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  commentPropName: '#comment',
  cdataPropName: '#cdata',
  processEntities: false,
  trimValues: false,
  parseTagValue: false,
  parseAttributeValue: false,
  suppressEmptyNode: true,
} as const;

const escapeAttr = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

const tagOf = (n: Node) => Object.keys(n).find((k) => k !== ':@' && !k.startsWith('#') && k !== '?xml');
const childrenOf = (n: Node, tag: string) => n[tag] as Node[];

export function editReleaseXml(xml: string, edit: ReleaseXmlEdit): string {
  const doc = new XMLParser(OPTIONS).parse(xml) as Node[];
  const root = doc.find((n) => tagOf(n));
  if (!root) throw cannot('it has no root element');
  const rootTag = tagOf(root)!;
  const name = qualifier(root[':@'] ?? {});
  const top = childrenOf(root, rootTag);
  if (edit.sha256ByFile) setDigests(top, name, edit.sha256ByFile);
  if (edit.synch) setSynch(top, name, edit.synch);
  const out = new XMLBuilder({ ...OPTIONS, format: false }).build(doc) as string;
  // the builder writes the declaration its own way: keep the file's, and what followed it
  const declared = /^(\uFEFF?<\?xml[^>]*\?>\s*)/.exec(xml)?.[1];
  const after = /\s*$/.exec(xml)![0];
  return (declared ? out.replace(/^<\?xml[^>]*\?>\s*/, declared) : out).replace(/\s*$/, after);
}

/** The qualified name of a release.xml element, by the prefixes the root declares. */
function qualifier(attrs: Record<string, string>): (ns: keyof typeof NAMESPACES, local: string) => string {
  const prefixOf = new Map<string, string>();
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'xmlns') prefixOf.set(v, '');
    else if (k.startsWith('xmlns:')) prefixOf.set(v, k.slice(6));
  }
  return (ns, local) => {
    const p = prefixOf.get(NAMESPACES[ns]);
    if (p === undefined) throw cannot(`its root does not declare the ${ns} namespace`);
    return p ? `${p}:${local}` : local;
  };
}

function setDigests(top: Node[], q: ReturnType<typeof qualifier>, digests: Record<string, string>): void {
  const umd = top.find((n) => tagOf(n) === q('UMDmeta', 'UMDmeta'));
  const packages = umd && childrenOf(umd, q('UMDmeta', 'UMDmeta')).find((n) => tagOf(n) === q('UMDmeta', 'packages'));
  if (!packages) throw cannot('it has no UMDmeta:packages');
  const left = new Set(Object.keys(digests));
  for (const p of childrenOf(packages, q('UMDmeta', 'packages'))) {
    if (tagOf(p) !== q('UMDmeta', 'package')) continue;
    p[':@'] ??= {};
    const attrs = p[':@'];
    const file = attrs.filename ?? '';
    const sha = digests[file];
    if (sha === undefined) throw cannot(`no digest was given for package ${file}`);
    attrs.sha256 = escapeAttr(sha);
    left.delete(file);
  }
  if (left.size) throw cannot(`it lists no package ${[...left].join(', ')}`);
}

function setSynch(top: Node[], q: ReturnType<typeof qualifier>, synch: { url: string; sha256: string }): void {
  const urlTag = q('release', 'synchURL');
  const shaTag = q('release', 'synchSha256');
  const at = top.findIndex((n) => tagOf(n) === urlTag);
  if (at < 0) throw cannot('it has no synchURL');
  top[at] = { [urlTag]: [{ '#text': escapeAttr(synch.url) }] };
  const sha = { [shaTag]: [{ '#text': synch.sha256 }] };
  const old = top.findIndex((n) => tagOf(n) === shaTag);
  if (old >= 0) top[old] = sha;
  else {
    // after synchURL and the whitespace that followed it, as the schema orders them
    const ws = top[at + 1]?.['#text'];
    top.splice(at + 1, 0, ...(typeof ws === 'string' ? [{ '#text': ws }, sha] : [sha]));
  }
}

const cannot = (why: string) => new RdError('RD_INTERNAL', `release.xml cannot be rewritten for export: ${why}`);
