/**
 * Reads release.xml into a namespace-resolved element tree, refusing what is unsafe before anything is parsed:
 * size, DOCTYPE/ENTITY, malformed XML (XMLValidator), nesting depth; then fast-xml-parser with entities off and
 * values kept as strings, element start positions captured for line numbers.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { controlChar, controlCharIndex, decodeInput, decodeReferences, lineIndex, quote, tooDeepIndex, xmlError } from './xml-text.ts';

export interface XmlElement {
  /** the name as written, e.g. `release:ISODate` */
  readonly qname: string;
  /** namespace URI ('' for none) and local name */
  readonly ns: string;
  readonly local: string;
  readonly line: number;
  /** unprefixed attributes, references decoded; namespace declarations and prefixed attributes are left out */
  readonly attributes: Readonly<Record<string, string>>;
  /** the text directly inside, references decoded, not trimmed */
  readonly text: string;
  readonly children: readonly XmlElement[];
  /** prefix -> namespace URI in force here ('' is the default namespace) */
  readonly scope: ReadonlyMap<string, string>;
}

export interface ReadLimits {
  readonly maxBytes: number;
  readonly maxDepth: number;
}

const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const META = XMLParser.getMetaDataSymbol();

const parser = (maxDepth: number) =>
  new XMLParser({
    preserveOrder: true,
    captureMetaData: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    processEntities: false,
    htmlEntities: false,
    cdataPropName: '#cdata',
    ignoreDeclaration: true,
    ignorePiTags: true,
    // a backstop: tooDeepIndex() already refused anything deeper, with its line
    maxNestedTags: maxDepth + 2,
    // callbacks get a matcher instead of a path string built per element (quadratic in depth)
    jPath: false,
  });

type Node = Record<string, unknown> & { ':@'?: Record<string, string> };

export function readXmlTree(input: string | Buffer, file: string, limits: ReadLimits): XmlElement {
  const text = decodeInput(input, file, limits.maxBytes);
  const lineOf = lineIndex(text);

  const forbidden = /<!\s*(DOCTYPE|ENTITY)/i.exec(text);
  if (forbidden) {
    throw xmlError(
      'RD_XML_FORBIDDEN',
      file,
      lineOf(forbidden.index),
      `<!${forbidden[1]!.toUpperCase()}> is not allowed in release metadata`,
    );
  }
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    const message = /multiple possible root/i.test(msg) ? 'a second root element; one file holds exactly one release' : msg;
    throw xmlError('RD_XML_MALFORMED', file, line, message, { col });
  }
  const deep = tooDeepIndex(text, limits.maxDepth);
  if (deep !== -1) {
    throw xmlError('RD_XML_INVALID', file, lineOf(deep), `elements nest deeper than ${limits.maxDepth} levels`, { limit: limits.maxDepth });
  }

  let nodes: Node[];
  try {
    nodes = parser(limits.maxDepth).parse(text) as Node[];
  } catch (e) {
    throw xmlError('RD_XML_MALFORMED', file, undefined, `the XML parser refused the file: ${(e as Error).message}`);
  }
  const roots = nodes.filter((n) => elementName(n) !== undefined);
  if (roots.length !== 1) {
    const line = roots[1] ? lineOf(startOf(roots[1])) : 1;
    throw xmlError('RD_XML_MALFORMED', file, line, 'one file holds exactly one release (one root element)');
  }
  const root = toElement(roots[0]!, new Map([['xml', XML_NS]]), { file, lineOf });

  const stray = controlCharIndex(text);
  if (stray !== -1) throw xmlError('RD_XML_MALFORMED', file, lineOf(stray), 'a control character outside any value');
  return root;
}

const elementName = (n: Node): string | undefined => Object.keys(n).find((k) => k !== ':@' && !k.startsWith('#') && !k.startsWith('?'));
const cdataText = (n: Node): string => ((n['#cdata'] as Node[] | undefined) ?? []).map((t) => String(t['#text'] ?? '')).join('');
const startOf = (n: Node): number => (n[META as unknown as string] as { startIndex: number } | undefined)?.startIndex ?? 0;

interface Ctx {
  readonly file: string;
  readonly lineOf: (index: number) => number;
}

function toElement(node: Node, parentScope: ReadonlyMap<string, string>, ctx: Ctx): XmlElement {
  const qname = elementName(node)!;
  const line = ctx.lineOf(startOf(node));
  const fail = (code: 'RD_XML_NAMESPACE' | 'RD_XML_MALFORMED' | 'RD_XML_INVALID', message: string, extra: Record<string, unknown> = {}) =>
    xmlError(code, ctx.file, line, `<${qname}> ${message}`, { element: qname, ...extra });
  const clean = (value: string, what: string): string => {
    const bad = controlChar(value);
    if (bad) throw fail('RD_XML_INVALID', `${what}holds the control character ${bad}`, { value });
    return value;
  };
  const decode = (raw: string, what: string): string => {
    const r = decodeReferences(raw);
    if ('error' in r) throw fail('RD_XML_MALFORMED', `${what}${r.error}`);
    return clean(r.value, what);
  };

  const rawAttrs = node[':@'] ?? {};
  let scope = parentScope;
  for (const [name, raw] of Object.entries(rawAttrs)) {
    if (name !== 'xmlns' && !name.startsWith('xmlns:')) continue;
    if (scope === parentScope) scope = new Map(parentScope);
    (scope as Map<string, string>).set(name === 'xmlns' ? '' : name.slice(6), decode(raw, `namespace declaration ${name} `));
  }
  const attributes: Record<string, string> = {};
  for (const [name, raw] of Object.entries(rawAttrs)) {
    if (name === 'xmlns' || name.startsWith('xmlns:')) continue;
    const colon = name.indexOf(':');
    if (colon !== -1 && !scope.has(name.slice(0, colon))) {
      throw fail('RD_XML_NAMESPACE', `uses the prefix "${name.slice(0, colon)}" of attribute ${name}, which no xmlns declaration binds`);
    }
    const value = decode(raw, `attribute ${name} `);
    if (colon === -1) attributes[name] = value;
  }

  const parts = qname.split(':');
  if (parts.length > 2) throw fail('RD_XML_MALFORMED', 'is not a valid namespaced name');
  const [prefix, local] = parts.length === 2 ? [parts[0]!, parts[1]!] : ['', parts[0]!];
  const ns = scope.get(prefix) ?? (prefix === '' ? '' : undefined);
  if (ns === undefined) throw fail('RD_XML_NAMESPACE', `uses the prefix "${prefix}", which no xmlns declaration binds`);

  let text = '';
  const children: XmlElement[] = [];
  for (const child of (node[qname] as Node[] | undefined) ?? []) {
    if ('#text' in child) text += decode(String(child['#text']), `text ${quote(String(child['#text']).trim())} `);
    else if ('#cdata' in child)
      text += clean(cdataText(child), 'CDATA '); // CDATA holds no references to expand
    else if (elementName(child) !== undefined) children.push(toElement(child, scope, ctx));
  }
  return { qname, ns, local, line, attributes, text, children, scope };
}
