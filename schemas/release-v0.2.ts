/**
 * EGI release.xml v0.2, as data. The validator in services/metadata/ walks this table; it knows no element by name.
 * The hand-written XSD beside this file (release-v0.2.xsd, served at /schemas/release-v0.2.xsd) documents the same
 * format for providers; test/services/metadata/release-xsd-sync.test.ts keeps the two in step.
 *
 * Elements match by namespace URI and local name, never by prefix. Children of an element may come in any order.
 */

export const NAMESPACES = {
  release: 'http://repo.egi.eu/0.2/release',
  UMDmeta: 'http://repo.egi.eu/0.2/UMDmeta',
  repository: 'http://repo.egi.eu/0.2/repository',
  repofile: 'http://repo.egi.eu/0.2/repofile',
} as const;
export type Prefix = keyof typeof NAMESPACES;

export interface ValueType {
  /** completes `"<value>" is not ...` in error messages */
  readonly describe: string;
  readonly pattern: RegExp;
  /** a further check the pattern cannot express (a real calendar date, a parseable URL) */
  readonly check?: (value: string) => boolean;
  /** lower-case the value once it passed (hex digests) */
  readonly lowercase?: boolean;
  /** what exactly is wrong with a value that check refused, for the error message */
  readonly explain?: (value: string) => string | undefined;
}

const TOKEN_CHARS = 'letters, digits and . _ + -';

function isRealDate(v: string): boolean {
  const [y, m, d] = [Number(v.slice(0, 4)), Number(v.slice(4, 6)), Number(v.slice(6, 8))];
  const date = new Date(Date.UTC(y, m - 1, d));
  return y >= 1900 && date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

const codePoint = (ch: string) => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
const position = (v: string, index: number) => [...v.slice(0, index)].length + 1;
const LOOKALIKE_SCRIPTS = [
  ['Cyrillic', /\p{Script=Cyrillic}/u],
  ['Greek', /\p{Script=Greek}/u],
] as const;

/**
 * Why a display name could pass for another one, or undefined: an invisible formatting character (bidi override,
 * zero-width space...), or a word that mixes Latin letters with Cyrillic or Greek ones (Cyrillic "а" looks like "a").
 */
export function spoofedName(v: string): string | undefined {
  const format = /\p{Cf}/u.exec(v);
  if (format) return `character ${position(v, format.index)} is ${codePoint(format[0])}, an invisible formatting character`;
  for (const word of v.matchAll(/[^\s\p{P}\p{S}]+/gu)) {
    if (!/\p{Script=Latin}/u.test(word[0])) continue;
    for (const [script, re] of LOOKALIKE_SCRIPTS) {
      const m = re.exec(word[0]);
      if (m)
        return `the word ${JSON.stringify(word[0])} mixes Latin and ${script} letters: character ${position(v, word.index + m.index)} is the ${script} ${codePoint(m[0])}`;
    }
  }
  return undefined;
}

function isHttpUrl(v: string): boolean {
  try {
    const url = new URL(v);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/**
 * Values are trimmed before they are checked; every value is also refused if it holds a control character.
 * Lengths stay within the database columns the values are stored in (product_name 200, version 100 = three parts
 * of 32 and two dots, arch 50, package version and release 100): a longer value must fail here, not in an INSERT.
 */
export const VALUE_TYPES = {
  text: { describe: 'free text', pattern: /^[\s\S]{0,65536}$/ },
  line: { describe: 'a single line of at most 1024 characters', pattern: /^[^\n\r\t]{0,1024}$/ },
  name: {
    describe: 'a non-empty single line of at most 200 characters, without invisible formatting characters or lookalike letters',
    pattern: /^[^\n\r\t]{1,200}$/,
    check: (v: string) => spoofedName(v) === undefined,
    explain: spoofedName,
  },
  shortName: {
    describe: `a name of 1-128 ${TOKEN_CHARS}, starting with a letter or digit, without ".."`,
    pattern: /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/,
  },
  token: {
    describe: `a name of 1-50 ${TOKEN_CHARS}, starting with a letter or digit, without ".."`,
    pattern: /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._+-]{0,49}$/,
  },
  isoDate: { describe: 'a date in YYYYMMDD form', pattern: /^\d{8}$/, check: isRealDate },
  boolean: { describe: 'true or false', pattern: /^(?:true|false)$/ },
  versionPart: {
    describe: `a version part of 1-32 ${TOKEN_CHARS} or ~, starting with a letter or digit, without ".."`,
    pattern: /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._+~-]{0,31}$/,
  },
  synchUrl: {
    describe: 'n/a or an http(s) URL',
    pattern: /^(?:[nN]\/[aA]|[hH][tT][tT][pP][sS]?:\/\/\S{1,2040})$/,
    check: (v: string) => v.toLowerCase() === 'n/a' || isHttpUrl(v),
  },
  sha256: { describe: 'a sha256 digest of 64 hex digits', pattern: /^[0-9a-fA-F]{64}$/, lowercase: true },
  pkgFilename: {
    describe: 'a plain file name (letters, digits, . _ + ~ ^ -, no "/" or "..") ending in .rpm or .deb',
    pattern: /^(?!.*\.\.)[A-Za-z0-9_+][A-Za-z0-9._+~^-]{0,250}\.(?:rpm|deb)$/,
  },
  pkgName: {
    describe: `a package name of 1-128 ${TOKEN_CHARS}, starting with a letter, digit, _ or +, without ".."`,
    pattern: /^(?!.*\.\.)[A-Za-z0-9_+][A-Za-z0-9._+-]{0,127}$/,
  },
  pkgVersion: {
    describe: 'a package version of 1-100 letters, digits and . _ + ~ ^ : -, starting with a letter or digit, without ".."',
    pattern: /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._+~^:-]{0,99}$/,
  },
  pkgRelease: {
    describe: 'a package release of up to 100 letters, digits and . _ + ~ ^ -, without ".." (empty only for a native deb)',
    pattern: /^(?:(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._+~^-]{0,99})?$/,
  },
  pkgArch: { describe: 'an architecture of 1-32 letters, digits and _ (x86_64, noarch, amd64, all)', pattern: /^[A-Za-z0-9_]{1,32}$/ },
  pkgUrl: {
    describe: 'an http(s) URL (or empty / n/a when the packages come from the synchURL bundle)',
    pattern: /^(?:|[nN]\/[aA]|[hH][tT][tT][pP][sS]?:\/\/\S{1,2040})$/,
    check: (v: string) => v === '' || v.toLowerCase() === 'n/a' || isHttpUrl(v),
  },
} as const satisfies Record<string, ValueType>;
export type ValueTypeName = keyof typeof VALUE_TYPES;

export interface AttributeSpec {
  readonly type: ValueTypeName;
  readonly required: boolean;
}

/** `1` exactly once, `?` at most once, `+` once or more, `*` any number of times. */
export type Occurs = '1' | '?' | '+' | '*';

/**
 * One element. Its content is exactly one of: `type` (text only), `children` (elements only, any order),
 * `any` (anything, kept as a loose tree, attributes included), or none of them (empty, attributes only).
 */
export interface ElementSpec {
  readonly ns: Prefix;
  readonly name: string;
  readonly occurs: Occurs;
  readonly type?: ValueTypeName;
  readonly children?: readonly ElementSpec[];
  readonly any?: true;
  /** unprefixed attributes; an unprefixed attribute not listed here is refused (a typo must not silently drop a digest) */
  readonly attributes?: Readonly<Record<string, AttributeSpec>>;
}

const release = (name: string, type: ValueTypeName, occurs: Occurs = '1'): ElementSpec => ({ ns: 'release', name, type, occurs });
const req = (type: ValueTypeName): AttributeSpec => ({ type, required: true });
const opt = (type: ValueTypeName): AttributeSpec => ({ type, required: false });

export const RELEASE_V02: ElementSpec = {
  ns: 'release',
  name: 'release',
  occurs: '1',
  children: [
    release('productName', 'name'),
    release('productShortName', 'shortName'),
    release('technologyProvider', 'line', '?'),
    release('technologyProviderShortName', 'line', '?'),
    release('contact', 'line', '?'),
    release('technicalContact', 'line', '?'),
    release('description', 'text', '?'),
    release('documentationLink', 'line', '?'),
    release('ISODate', 'isoDate'),
    release('incremental', 'boolean', '?'),
    release('emergency', 'boolean', '?'),
    release('majorVersion', 'versionPart'),
    release('minorVersion', 'versionPart'),
    release('revisionVersion', 'versionPart'),
    release('releaseNotes', 'text', '?'),
    release('changeLog', 'text', '?'),
    release('synchProtocol', 'line', '?'),
    release('synchURL', 'synchUrl'),
    // releasedesk extension: the sha256 of the tar.gz bundle at synchURL
    release('synchSha256', 'sha256', '?'),
    {
      ns: 'UMDmeta',
      name: 'UMDmeta',
      occurs: '1',
      children: [
        { ns: 'UMDmeta', name: 'targetPlatform', type: 'token', occurs: '1' },
        { ns: 'UMDmeta', name: 'targetArch', type: 'token', occurs: '1' },
        { ns: 'UMDmeta', name: 'capability', type: 'line', occurs: '*' },
        {
          ns: 'UMDmeta',
          name: 'packages',
          occurs: '1',
          children: [
            {
              ns: 'UMDmeta',
              name: 'package',
              occurs: '+',
              attributes: {
                pkgname: req('pkgName'),
                version: req('pkgVersion'),
                release: req('pkgRelease'),
                arch: req('pkgArch'),
                filename: req('pkgFilename'),
                url: opt('pkgUrl'),
                pkgtype: opt('line'),
                // releasedesk extension: the sha256 of the package file
                sha256: opt('sha256'),
              },
            },
          ],
        },
      ],
    },
    { ns: 'repository', name: 'yumRepository', occurs: '?', any: true },
    { ns: 'repository', name: 'debRepository', occurs: '?', any: true },
    { ns: 'repofile', name: 'yumRepofile', occurs: '?', any: true },
    { ns: 'repofile', name: 'debRepofile', occurs: '?', any: true },
  ],
};

/** Limits of the reader, before any element is looked at. */
export const XML_LIMITS = {
  maxBytes: 1024 * 1024,
  maxDepth: 32,
} as const;
