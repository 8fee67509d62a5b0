/**
 * Checks an element tree against a declarative element table (schemas/release-v0.2.ts). Generic: it knows occurrences,
 * namespaces, attribute and value types, never a particular element. Every error names the element and its line.
 */
import { NAMESPACES, VALUE_TYPES, type ElementSpec, type Prefix, type ValueTypeName } from '../../schemas/release-v0.2.ts';
import type { XmlElement } from './xml-tree.ts';
import { quote, xmlError } from './xml-text.ts';

/** A checked element: its value (text elements), its attributes (checked, trimmed), its children by `prefix:name`. */
export interface Checked {
  readonly element: XmlElement;
  readonly value: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: ReadonlyMap<string, readonly Checked[]>;
}

const KNOWN = new Map(Object.entries(NAMESPACES).map(([prefix, uri]) => [uri as string, prefix as Prefix]));
const keyOf = (spec: ElementSpec) => `${spec.ns}:${spec.name}`;
const MIN = { '1': 1, '?': 0, '+': 1, '*': 0 } as const;
const MAX = { '1': 1, '?': 1, '+': Infinity, '*': Infinity } as const;

/** The name a document would use for spec inside el: its own prefix for that namespace if it binds one. */
function nameIn(el: XmlElement, spec: ElementSpec): string {
  const uri = NAMESPACES[spec.ns];
  for (const [prefix, bound] of el.scope) if (bound === uri) return prefix === '' ? spec.name : `${prefix}:${spec.name}`;
  return keyOf(spec);
}

export function checkDocument(root: XmlElement, spec: ElementSpec, file: string): Checked {
  if (root.ns !== NAMESPACES[spec.ns] && root.local === spec.name) throw wrongNamespace(root, spec, file);
  if (root.ns !== NAMESPACES[spec.ns]) {
    throw xmlError(
      'RD_XML_INVALID',
      file,
      root.line,
      `the root element is <${root.qname}>; release metadata starts with <${keyOf(spec)}>`,
      { element: root.qname },
    );
  }
  return checkElement(root, spec, file);
}

function wrongNamespace(el: XmlElement, spec: ElementSpec | undefined, file: string) {
  const where = el.ns === '' ? 'is in no namespace' : `is in the namespace ${quote(el.ns)}`;
  const want = spec
    ? `; release.xml v0.2 has it in ${quote(NAMESPACES[spec.ns])}`
    : `, which is not one of release.xml v0.2 (${Object.values(NAMESPACES).join(', ')})`;
  return xmlError('RD_XML_NAMESPACE', file, el.line, `<${el.qname}> ${where}${want}`, { element: el.qname, namespace: el.ns });
}

export function checkValue(el: XmlElement, type: ValueTypeName, raw: string, file: string, attribute?: string): string {
  const value = raw.trim();
  const t = VALUE_TYPES[type];
  if (!t.pattern.test(value) || ('check' in t && !t.check(value))) {
    const what = attribute === undefined ? '' : `attribute ${attribute} `;
    const why = ('explain' in t && t.explain(value)) || notAscii(t.pattern, value);
    throw xmlError('RD_XML_INVALID', file, el.line, `<${el.qname}> ${what}${quote(value)} is not ${t.describe}${why ? `: ${why}` : ''}`, {
      element: el.qname,
      attribute,
      value,
    });
  }
  return 'lowercase' in t && t.lowercase ? value.toLowerCase() : value;
}

/**
 * When a value fails only because of a non-ASCII character (a Cyrillic "а" among ASCII letters looks right in the
 * message), the character and its position; else undefined.
 */
function notAscii(pattern: RegExp, value: string): string | undefined {
  const m = /[^\x00-\x7F]/u.exec(value);
  if (!m || !pattern.test(value.replace(/[^\x00-\x7F]/gu, 'a'))) return undefined;
  const cp = `U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  return `character ${[...value.slice(0, m.index)].length + 1} is ${cp}, which is not ASCII`;
}

function checkAttributes(el: XmlElement, spec: ElementSpec, file: string): Record<string, string> {
  if (spec.any) return { ...el.attributes };
  const declared = spec.attributes ?? {};
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(el.attributes)) {
    const a = declared[name];
    if (!a) {
      const known = Object.keys(declared);
      const hint = known.length ? ` (it takes ${known.join(', ')})` : ' (it takes none)';
      throw xmlError('RD_XML_INVALID', file, el.line, `<${el.qname}> has an unknown attribute ${name}=${quote(raw)}${hint}`, {
        element: el.qname,
        attribute: name,
      });
    }
    out[name] = checkValue(el, a.type, raw, file, name);
  }
  for (const [name, a] of Object.entries(declared)) {
    if (a.required && !(name in out)) {
      throw xmlError('RD_XML_INVALID', file, el.line, `<${el.qname}> lacks the required attribute ${name}`, {
        element: el.qname,
        attribute: name,
      });
    }
  }
  return out;
}

function checkElement(el: XmlElement, spec: ElementSpec, file: string): Checked {
  const attributes = checkAttributes(el, spec, file);
  if (spec.any) return { element: el, value: el.text.trim(), attributes, children: new Map() };
  const first = el.children[0];
  if (spec.children === undefined && first) {
    const takes = spec.type ? 'text only' : 'no content';
    throw xmlError('RD_XML_INVALID', file, first.line, `<${el.qname}> holds the element <${first.qname}>; it takes ${takes}`, {
      element: el.qname,
    });
  }
  if (spec.type) return { element: el, value: checkValue(el, spec.type, el.text, file), attributes, children: new Map() };
  if (el.text.trim() !== '') {
    const takes = spec.children ? 'elements only' : 'no content';
    throw xmlError('RD_XML_INVALID', file, el.line, `<${el.qname}> holds the text ${quote(el.text.trim())}; it takes ${takes}`, {
      element: el.qname,
    });
  }
  return { element: el, value: '', attributes, children: checkChildren(el, spec.children ?? [], file) };
}

function checkChildren(el: XmlElement, specs: readonly ElementSpec[], file: string): Map<string, Checked[]> {
  const found = new Map<string, Checked[]>();
  for (const child of el.children) {
    const spec = specs.find((s) => NAMESPACES[s.ns] === child.ns && s.name === child.local);
    if (!spec) {
      const sameName = specs.find((s) => s.name === child.local);
      if (sameName || !KNOWN.has(child.ns)) throw wrongNamespace(child, sameName, file);
      throw xmlError('RD_XML_INVALID', file, child.line, `<${el.qname}> does not take <${child.qname}>`, {
        element: child.qname,
        parent: el.qname,
      });
    }
    const seen = found.get(keyOf(spec)) ?? found.set(keyOf(spec), []).get(keyOf(spec))!;
    if (seen.length >= MAX[spec.occurs]) {
      const before = seen[0]!.element.line;
      throw xmlError(
        'RD_XML_INVALID',
        file,
        child.line,
        `<${child.qname}> appears again (first on line ${before}); <${el.qname}> takes it once`,
        {
          element: child.qname,
          lines: [before, child.line],
        },
      );
    }
    seen.push(checkElement(child, spec, file));
  }
  for (const spec of specs) {
    if (MIN[spec.occurs] > 0 && !found.has(keyOf(spec))) {
      const missing = nameIn(el, spec);
      throw xmlError('RD_XML_INVALID', file, el.line, `<${el.qname}> lacks required <${missing}>`, {
        element: el.qname,
        missing: keyOf(spec),
      });
    }
  }
  return found;
}
