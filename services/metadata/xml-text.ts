/** Text-level guards of the release.xml reader: bytes to text, line numbers, references, control characters, depth. */
import { RdError, type ErrorCode } from '../errors.ts';

/** `release.xml line 14: <message>`; details always carry file, line and, where known, the element. */
export function xmlError(
  code: ErrorCode,
  file: string,
  line: number | undefined,
  message: string,
  details: Record<string, unknown> = {},
): RdError {
  const where = line === undefined ? file : `${file} line ${line}`;
  return new RdError(code, `${where}: ${message}`, { file, line, ...details });
}

/**
 * A value as it is shown in a message: quoted, escaped, cut at 80 characters. Characters that would hide or reorder
 * text where the message is read (C1 controls, bidi overrides, zero-width characters) are written as \uXXXX.
 */
export function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value).replace(/[\u007F-\u009F\u2028\u2029\p{Cf}]/gu, (c) =>
    [...Array(c.length).keys()].map((i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
  );
}

/** Maps a character index of the text to its 1-based line. */
export function lineIndex(text: string): (index: number) => number {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return (index) => {
    let [lo, hi] = [0, starts.length];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]! <= index) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** UTF-8 bytes (or a string) to text without BOM and with \n line ends, so indexes and lines agree everywhere. */
export function decodeInput(input: string | Buffer, file: string, maxBytes: number): string {
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.length;
  if (size > maxBytes) {
    throw xmlError('RD_XML_INVALID', file, undefined, `the file has ${size} bytes; release metadata is limited to ${maxBytes} bytes`, {
      size,
      limit: maxBytes,
    });
  }
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      const lenient = new TextDecoder('utf-8').decode(input);
      const at = lenient.indexOf('\uFFFD');
      throw xmlError('RD_XML_MALFORMED', file, lineIndex(lenient)(Math.max(at, 0)), 'the file is not UTF-8 text');
    }
  }
  return text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
}

/** Characters XML 1.0 allows, less the C1 controls and DEL: TAB, LF, CR and printable text. */
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFE\uFFFF]/;

/** The first control character of a value, as `U+0001`, or undefined. */
export function controlChar(value: string): string | undefined {
  const m = CONTROL.exec(value);
  return m ? `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}` : undefined;
}

/** The index of the first control character of the text, or -1. */
export const controlCharIndex = (text: string): number => text.search(CONTROL);

const BUILTIN: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const REFERENCE = /&(?:#x([0-9A-Fa-f]{1,6});|#([0-9]{1,7});|([A-Za-z_:][\w.:-]*);)|&/g;

const isXmlChar = (cp: number) =>
  cp === 0x9 ||
  cp === 0xa ||
  cp === 0xd ||
  (cp >= 0x20 && cp <= 0xd7ff) ||
  (cp >= 0xe000 && cp <= 0xfffd) ||
  (cp >= 0x10000 && cp <= 0x10ffff);

/**
 * Replaces the five predefined entities and numeric character references. The parser runs with entities off, so
 * this is the only expansion there is: no DOCTYPE can define more, and `&name;` of any other name is refused.
 * Returns the decoded value, or the reason it cannot be decoded.
 */
export function decodeReferences(raw: string): { value: string } | { error: string } {
  if (!raw.includes('&')) return { value: raw };
  let error: string | undefined;
  const value = raw.replace(REFERENCE, (all, hex?: string, dec?: string, name?: string) => {
    if (name !== undefined) {
      if (name in BUILTIN) return BUILTIN[name]!;
      error ??= `uses the entity ${all}, which is not defined (only &amp; &lt; &gt; &quot; &apos; and &#NN; are)`;
      return all;
    }
    if (hex === undefined && dec === undefined) {
      error ??= 'holds a bare "&" (write &amp;)';
      return all;
    }
    const cp = hex !== undefined ? parseInt(hex, 16) : parseInt(dec!, 10);
    if (!isXmlChar(cp)) {
      error ??= `uses the character reference ${all}, which is not a character XML allows`;
      return all;
    }
    return String.fromCodePoint(cp);
  });
  return error === undefined ? { value } : { error };
}

/**
 * The index of the first start tag nested deeper than maxDepth, or -1. Runs on text the validator accepted (so every
 * comment, CDATA section and tag is closed) and before the parser, whose cost grows with the square of the depth.
 */
export function tooDeepIndex(text: string, maxDepth: number): number {
  let depth = 0;
  for (let i = text.indexOf('<'); i !== -1; i = text.indexOf('<', i)) {
    const skip = text.startsWith('<!--', i) ? '-->' : text.startsWith('<![CDATA[', i) ? ']]>' : text.startsWith('<?', i) ? '?>' : undefined;
    if (skip !== undefined) {
      const end = text.indexOf(skip, i + 2);
      if (end === -1) return -1;
      i = end + skip.length;
      continue;
    }
    let j = i + 1;
    for (let q = ''; j < text.length; j++) {
      const c = text[j];
      if (q !== '') q = c === q ? '' : q;
      else if (c === '"' || c === "'") q = c;
      else if (c === '>') break;
    }
    if (text[i + 1] === '/') depth--;
    else if (text[j - 1] !== '/' && ++depth > maxDepth) return i;
    i = j + 1;
  }
  return -1;
}
