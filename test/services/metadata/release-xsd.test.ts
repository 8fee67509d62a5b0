/**
 * The element table (schemas/release-v0.2.ts) drives the validator; the XSD documents the format for providers.
 * These tests keep them in step: same elements, occurrences, value types and attributes; and, where xmllint is
 * installed, the XSD and the parser agree on a set of documents.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { NAMESPACES, RELEASE_V02, type ElementSpec, type Occurs } from '../../../schemas/release-v0.2.ts';
import { parseReleaseXml } from '../../../services/metadata/release-xml.ts';

const SCHEMAS = new URL('../../../schemas/', import.meta.url);
const MAIN_XSD = new URL('release-v0.2.xsd', SCHEMAS).pathname;

type Node = { tag: string; attrs: Record<string, string>; children: Node[]; parent?: Node };
interface Schema {
  file: string;
  ns: string;
  prefixOf: Map<string, string>;
  root: Node;
}

function toNodes(raw: Record<string, unknown>[], parent?: Node): Node[] {
  return raw.flatMap((n) => {
    const tag = Object.keys(n).find((k) => k !== ':@' && !k.startsWith('#') && !k.startsWith('?'));
    if (!tag) return [];
    const node: Node = { tag, attrs: (n[':@'] ?? {}) as Record<string, string>, children: [], parent };
    node.children = toNodes(n[tag] as Record<string, unknown>[], node);
    return [node];
  });
}
const descendants = (n: Node): Node[] => n.children.flatMap((c) => [c, ...descendants(c)]);

const schemas: Schema[] = readdirSync(SCHEMAS)
  .filter((f) => /^release-v0\.2.*\.xsd$/.test(f))
  .map((file) => {
    const parsed = new XMLParser({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '', ignoreDeclaration: true }).parse(
      readFileSync(new URL(file, SCHEMAS), 'utf8'),
    );
    const root = toNodes(parsed)[0]!;
    const prefixOf = new Map(
      Object.entries(root.attrs)
        .filter(([k]) => k.startsWith('xmlns:'))
        .map(([k, v]) => [v, k.slice(6)]),
    );
    return { file, ns: root.attrs.targetNamespace!, prefixOf, root };
  });
const schemaOf = (spec: ElementSpec) => schemas.find((s) => s.ns === NAMESPACES[spec.ns])!;

/** The declaration of spec (global or local, name=...) and the particle that carries its occurrence in parent. */
function find(spec: ElementSpec, parent: ElementSpec | undefined) {
  const own = schemaOf(spec);
  const decls = descendants(own.root).filter((n) => n.tag === 'xs:element' && n.attrs.name === spec.name);
  expect(decls, `${own.file} declares <${spec.ns}:${spec.name}> once`).toHaveLength(1);
  const decl = decls[0]!;
  if (!parent || decl.parent !== own.root) return { decl, particle: decl };
  const host = schemaOf(parent);
  const ref = `${host.prefixOf.get(NAMESPACES[spec.ns])}:${spec.name}`;
  const particle = descendants(host.root).find((n) => n.tag === 'xs:element' && n.attrs.ref === ref);
  expect(particle, `${host.file} refers to ${ref}`).toBeDefined();
  return { decl, particle: particle! };
}

function occursOf(n: Node): Occurs {
  const min = n.attrs.minOccurs ?? '1';
  const max = n.attrs.maxOccurs ?? '1';
  return ({ '1/1': '1', '0/1': '?', '1/unbounded': '+', '0/unbounded': '*' } as Record<string, Occurs>)[`${min}/${max}`]!;
}

function walk(spec: ElementSpec, parent: ElementSpec | undefined, visit: (spec: ElementSpec, parent: ElementSpec | undefined) => void) {
  visit(spec, parent);
  for (const c of spec.children ?? []) walk(c, spec, visit);
}
const tableElements: [ElementSpec, ElementSpec | undefined][] = [];
walk(RELEASE_V02, undefined, (s, p) => tableElements.push([s, p]));

describe('schemas/release-v0.2.xsd and the element table agree', () => {
  it('has one schema document per namespace of the table', () => {
    expect(schemas.map((s) => s.ns).sort()).toEqual(Object.values(NAMESPACES).sort());
    const imports = descendants(schemas.find((s) => s.file === 'release-v0.2.xsd')!.root).filter((n) => n.tag === 'xs:import');
    expect(imports.map((n) => n.attrs.schemaLocation).sort()).toEqual(
      schemas
        .map((s) => s.file)
        .filter((f) => f !== 'release-v0.2.xsd')
        .sort(),
    );
  });

  it.each(tableElements.map(([s, p]) => [`${s.ns}:${s.name}`, s, p] as const))(
    'declares %s with the same occurrence and content',
    (_, spec, parent) => {
      const { decl, particle } = find(spec, parent);
      expect(occursOf(particle)).toBe(spec.occurs);
      const own = schemaOf(spec);
      const self = own.prefixOf.get(own.ns);
      if (spec.type) expect(decl.attrs.type).toBe(`${self}:${spec.type}`);
      if (spec.any) expect(decl.attrs.type).toBe(`${self}:loose`);
      if (spec.children) expect(decl.children.map((c) => c.tag)).toEqual(['xs:complexType']);
      if (spec.type) {
        const simple = own.root.children.find((n) => n.tag === 'xs:simpleType' && n.attrs.name === spec.type);
        expect(simple, `${own.file} defines the simple type ${spec.type}`).toBeDefined();
      }
    },
  );

  it('declares no element the table lacks', () => {
    const inTable = new Set(tableElements.map(([s]) => `${NAMESPACES[s.ns]} ${s.name}`));
    const inXsd = schemas.flatMap((s) =>
      descendants(s.root)
        .filter((n) => n.tag === 'xs:element' && n.attrs.name)
        .map((n) => `${s.ns} ${n.attrs.name}`),
    );
    expect(inXsd.sort()).toEqual([...inTable].sort());
  });

  it('declares the same attributes, types and use as the table', () => {
    for (const [spec, parent] of tableElements) {
      const { decl } = find(spec, parent);
      const own = schemaOf(spec);
      const xsd = descendants(decl).filter((n) => n.tag === 'xs:attribute' && n.parent?.parent === decl);
      const fromXsd = Object.fromEntries(xsd.map((n) => [n.attrs.name, { type: n.attrs.type, required: n.attrs.use === 'required' }]));
      const fromTable = Object.fromEntries(
        Object.entries(spec.attributes ?? {}).map(([name, a]) => [
          name,
          { type: `${own.prefixOf.get(own.ns)}:${a.type}`, required: a.required },
        ]),
      );
      expect(fromXsd, `attributes of <${spec.ns}:${spec.name}>`).toEqual(fromTable);
      for (const a of Object.values(spec.attributes ?? {})) {
        expect(
          own.root.children.some((n) => n.tag === 'xs:simpleType' && n.attrs.name === a.type),
          `${own.file} defines ${a.type}`,
        ).toBe(true);
      }
    }
  });
});

const xmllint = spawnSync('xmllint', ['--version']).status === 0;

describe.skipIf(!xmllint)('the XSD and the parser agree (xmllint)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'release-xsd-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const sample = readFileSync(new URL('../../fixtures/release-xml/sample-v0.2.xml', import.meta.url), 'utf8');
  const ok = sample.replace('(optional extension: hex digest)', 'ab'.repeat(32));
  const xsdAccepts = (xml: string) => {
    const file = join(dir, 'doc.xml');
    writeFileSync(file, xml);
    return spawnSync('xmllint', ['--noout', '--nonet', '--schema', MAIN_XSD, file]).status === 0;
  };
  const parserAccepts = (xml: string) => {
    try {
      parseReleaseXml(xml);
      return true;
    } catch {
      return false;
    }
  };
  const bundle = '<release:synchURL>https://p.example.org/b.tar.gz</release:synchURL>';
  const cases: [string, string, boolean][] = [
    ['the sample with a digest', ok, true],
    ['the verbatim sample (placeholder digest)', sample, false],
    [
      'a bundle with synchSha256',
      ok.replace('<release:synchURL>n/a</release:synchURL>', `${bundle}<release:synchSha256>${'AB'.repeat(32)}</release:synchSha256>`),
      true,
    ],
    ['no productShortName', ok.replace(/<release:productShortName>.*<\/release:productShortName>/, ''), false],
    ['productShortName with ..', ok.replace('EXAMPLETP.frontier', 'EXAMPLETP..frontier'), false],
    ['ISODate with dashes', ok.replace('20261115', '2026-11-15'), false],
    ['month 13', ok.replace('20261115', '20261315'), false],
    ['emergency "yes"', ok.replace('<release:emergency>false', '<release:emergency>yes'), false],
    ['filename ../x.rpm', ok.replace('filename="frontier-squid-4.15-2.1.x86_64.rpm"', 'filename="../x.rpm"'), false],
    ['filename .tar.gz', ok.replace('filename="frontier-squid-4.15-2.1.x86_64.rpm"', 'filename="x.tar.gz"'), false],
    ['unknown attribute', ok.replace('pkgtype=', 'sha265="x" pkgtype='), false],
    ['unknown element', ok.replace('<release:ISODate>', '<release:isoDate>1</release:isoDate><release:ISODate>'), false],
    ['wrong namespace', ok.replace('0.2/UMDmeta"', '0.3/UMDmeta"'), false],
    ['no package', ok.replace(/<UMDmeta:package .*\/>/, ''), false],
    ['version "2.10"', ok.replace('version="4.15"', 'version="2.10"'), true],
  ];
  it.each(cases)('%s', (_, xml, valid) => {
    expect(xsdAccepts(xml)).toBe(valid);
    expect(parserAccepts(xml)).toBe(valid);
  });

  it('is a well-formed schema set that xmllint loads', () => {
    expect(() => execFileSync('xmllint', ['--noout', '--nonet', MAIN_XSD])).not.toThrow();
  });
});
