import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isRdError, type ErrorCode } from '../../../services/errors.ts';
import { parseReleaseXml } from '../../../services/metadata/release-xml.ts';

// a verbatim copy of EGI's sample (shared/samples/release-v0.2.example.xml); its sha256 is a placeholder
const SAMPLE = readFileSync(new URL('../../fixtures/release-xml/sample-v0.2.xml', import.meta.url), 'utf8');
const DIGEST = 'ab'.repeat(32);
const OK = SAMPLE.replace('(optional extension: hex digest)', DIGEST);
const PKG_LINE = OK.split('\n').find((l) => l.includes('<UMDmeta:package '))!;

/** The 1-based line of the first occurrence of needle in xml (computed independently of the parser). */
const lineOf = (xml: string, needle: string, from = 0) => {
  const at = xml.indexOf(needle, from);
  if (at === -1) throw new Error(`fixture has no ${needle}`);
  return xml.slice(0, at).split('\n').length;
};
const swap = (from: string | RegExp, to: string, xml = OK) => {
  const out = xml.replace(from, to);
  if (out === xml) throw new Error(`fixture has no ${from}`);
  return out;
};
const pkg = (attrs: Record<string, string>) =>
  `<UMDmeta:package ${Object.entries(attrs)
    .map(([k, v]) => `${k}="${v}"`)
    .join(' ')}/>`;
const rpm = (name: string, extra: Record<string, string> = {}) =>
  pkg({
    arch: 'x86_64',
    filename: `${name}-1.0-1.x86_64.rpm`,
    pkgname: name,
    release: '1',
    version: '1.0',
    url: `https://p.example.org/${name}-1.0-1.x86_64.rpm`,
    ...extra,
  });
const deb = (name: string, extra: Record<string, string> = {}) =>
  pkg({
    arch: 'amd64',
    filename: `${name}_1.0-1_amd64.deb`,
    pkgname: name,
    release: '1',
    version: '1.0',
    url: `https://p.example.org/${name}_1.0-1_amd64.deb`,
    ...extra,
  });
const withPackages = (...pkgs: string[]) => swap(PKG_LINE, pkgs.map((p) => `\t\t\t${p}`).join('\n'));

function failure(input: string | Buffer) {
  try {
    parseReleaseXml(input);
  } catch (e) {
    if (!isRdError(e)) throw e;
    return e;
  }
  throw new Error('parsed without error');
}
/** Asserts the code, the line in details and in the message, and optionally the element and message text. */
function expectFailure(input: string | Buffer, code: ErrorCode, line: number | undefined, text?: string | RegExp) {
  const e = failure(input);
  expect({ code: e.code, line: e.details.line }).toEqual({ code, line });
  expect(e.permanent).toBe(true);
  if (line !== undefined) expect(e.message).toMatch(new RegExp(`^release\\.xml line ${line}: `));
  if (text !== undefined) expect(e.message).toMatch(text);
  return e;
}

describe('parseReleaseXml: the EGI sample', () => {
  it('reads every field of the sample, values as written', () => {
    const m = parseReleaseXml(OK);
    expect(m).toMatchObject({
      productName: 'frontier-squid',
      productShortName: 'EXAMPLETP.frontier-squid.centos7.x86_64',
      technologyProvider: 'EXAMPLETP',
      technologyProviderShortName: 'EXAMPLETP',
      contact: 'support@example.org',
      technicalContact: 'support@example.org',
      description: 'HTTP caching proxy tuned for conditions data',
      documentationLink: 'https://example.org/frontier-squid/docs',
      isoDate: '20261115',
      incremental: false,
      emergency: false,
      majorVersion: '4',
      minorVersion: '15',
      revisionVersion: '2',
      version: '4.15.2',
      releaseNotes: 'Security update; see the advisory.',
      changeLog: '- rebase on upstream 4.15.2',
      synchProtocol: 'yum',
      synchURL: null,
      targetPlatform: 'centos7',
      targetArch: 'x86_64',
      capabilities: ['proxy'],
      repoKind: 'yum',
    });
    expect(m.synchSha256).toBeUndefined();
    expect(m.packages).toEqual([
      {
        filename: 'frontier-squid-4.15-2.1.x86_64.rpm',
        pkgname: 'frontier-squid',
        version: '4.15',
        release: '2.1',
        arch: 'x86_64',
        pkgtype: 'metapackage',
        url: 'https://provider.example.org/el7/frontier-squid-4.15-2.1.x86_64.rpm',
        sha256: DIGEST,
        line: 26,
        format: 'rpm',
      },
    ]);
  });

  it('keeps the repository and repofile parts loosely, with their lines', () => {
    const parts = parseReleaseXml(OK).repositoryParts;
    expect(parts.map((p) => [p.name, p.line])).toEqual([
      ['repository:yumRepository', 29],
      ['repofile:yumRepofile', 30],
    ]);
    expect(parts[0]!.attributes).toEqual({ external: 'false', id: 'EXAMPLETP.frontier-squid.centos7.x86_64', path: '/' });
    const repo = parts[1]!.children[0]!;
    expect(repo.name).toBe('repofile:yumRepository');
    expect(repo.children.find((c) => c.name === 'repofile:baseUrl')).toMatchObject({
      text: '/',
      attributes: { type: 'relative' },
      line: 35,
    });
  });

  it('refuses the verbatim sample: its sha256 is a placeholder, not a digest', () => {
    const e = expectFailure(
      SAMPLE,
      'RD_XML_INVALID',
      26,
      'release.xml line 26: <UMDmeta:package> attribute sha256 "(optional extension: hex digest)" is not a sha256 digest of 64 hex digits',
    );
    expect(e.details).toMatchObject({ element: 'UMDmeta:package', attribute: 'sha256' });
  });

  it('reads a Buffer, a BOM and CRLF line ends alike, with the same line numbers', () => {
    const crlf = Buffer.from(`\uFEFF${OK.replace(/\n/g, '\r\n')}`, 'utf8');
    expect(parseReleaseXml(crlf)).toEqual(parseReleaseXml(OK));
    expectFailure(crlf.toString('utf8').replace('20261115', '2026-11-15'), 'RD_XML_INVALID', 11);
  });

  it('matches namespaces by URI: other prefixes and a default namespace read the same', () => {
    const renamed = OK.replace(/\brelease:/g, 'r:')
      .replace('xmlns:release=', 'xmlns:r=')
      .replace(/\bUMDmeta:/g, 'u:')
      .replace('xmlns:UMDmeta=', 'xmlns:u=');
    const defaulted = OK.replace(/<(\/?)release:/g, '<$1').replace('xmlns:release=', 'xmlns=');
    expect(renamed).toContain('<r:productName>');
    expect(parseReleaseXml(renamed)).toEqual(parseReleaseXml(OK));
    expect(parseReleaseXml(defaulted)).toEqual(parseReleaseXml(OK));
  });

  it('names the file it was given', () => {
    expect(failure(swap('20261115', 'soon')).message).toMatch(/^release\.xml line 11: /);
    expect(() => parseReleaseXml(swap('20261115', 'soon'), 'ticket-42.xml')).toThrow(/^ticket-42\.xml line 11: /);
  });
});

describe('parseReleaseXml: values stay as written', () => {
  it('keeps "2.10", "010" and "1e3" as strings', () => {
    const xml = swap(
      '<release:majorVersion>4<',
      '<release:majorVersion>2<',
      swap(
        '<release:minorVersion>15<',
        '<release:minorVersion>010<',
        swap(
          '<release:revisionVersion>2<',
          '<release:revisionVersion>1e3<',
          withPackages(rpm('squid', { version: '2.10', release: '2.10', filename: 'squid-2.10-2.10.x86_64.rpm' })),
        ),
      ),
    );
    const m = parseReleaseXml(xml);
    expect(m.version).toBe('2.010.1e3');
    expect([m.majorVersion, m.minorVersion, m.revisionVersion]).toEqual(['2', '010', '1e3']);
    expect(m.packages[0]).toMatchObject({ version: '2.10', release: '2.10' });
  });

  it('reads booleans, empty free text, absent optional elements and entities', () => {
    let xml = swap('<release:emergency>false<', '<release:emergency> true <');
    xml = swap(/<release:releaseNotes>.*<\/release:releaseNotes>/, '<release:releaseNotes/>', xml);
    xml = swap(/\s*<release:incremental>.*<\/release:incremental>/, '', xml);
    xml = swap(
      /<release:changeLog>.*<\/release:changeLog>/,
      '<release:changeLog>a &lt;b&gt; &amp; &#233;&#x41;<![CDATA[ <raw> &amp;]]></release:changeLog>',
      xml,
    );
    const m = parseReleaseXml(xml);
    expect(m).toMatchObject({ emergency: true, incremental: false, releaseNotes: '', changeLog: 'a <b> & éA <raw> &amp;' });
  });

  it('reads a bundle release: synchURL, synchSha256 (any case, lower-cased), packages without url', () => {
    const pkgs = withPackages(rpm('a', { url: '' }), rpm('b', { url: 'n/a' }), rpm('c', { sha256: 'CD'.repeat(32) }));
    const xml = swap(
      '<release:synchURL>n/a</release:synchURL>',
      `<release:synchURL>https://p.example.org/b.tar.gz</release:synchURL>\n\t<release:synchSha256>${'AB'.repeat(32)}</release:synchSha256>`,
      pkgs,
    );
    const m = parseReleaseXml(xml);
    expect(m.synchURL).toBe('https://p.example.org/b.tar.gz');
    expect(m.synchSha256).toBe(DIGEST);
    expect(m.packages.map((p) => p.url)).toEqual([undefined, undefined, 'https://p.example.org/c-1.0-1.x86_64.rpm']);
    expect(m.packages[2]!.sha256).toBe('cd'.repeat(32));
    // synchSha256 took one more line
    expect(m.packages.map((p) => p.line)).toEqual([27, 28, 29]);
  });

  it('gives repoKind apt for deb packages', () => {
    const m = parseReleaseXml(withPackages(deb('a'), deb('b', { arch: 'all', filename: 'b_1.0-1_all.deb' })));
    expect(m.repoKind).toBe('apt');
    expect(m.packages.map((p) => p.format)).toEqual(['deb', 'deb']);
  });
});

describe('parseReleaseXml: unsafe input is refused before parsing', () => {
  it('refuses malformed XML with the validator line', () => {
    expectFailure('<a><b></a>', 'RD_XML_MALFORMED', 1, /closing tag/);
    expectFailure('<a>\n<b>\n</a>', 'RD_XML_MALFORMED', 3);
    const broken = swap('</release:contact>', '</release:contac>');
    expectFailure(broken, 'RD_XML_MALFORMED', 7);
  });

  it('refuses a DOCTYPE outright', () => {
    const xml = OK.replace('<release:release ', '<!DOCTYPE release>\n<release:release ');
    expectFailure(xml, 'RD_XML_FORBIDDEN', 2, /DOCTYPE/);
  });

  it('refuses an external entity', () => {
    const xml = OK.replace(
      '<?xml version="1.0" ?>',
      '<?xml version="1.0" ?>\n<!DOCTYPE r [\n<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>',
    ).replace('>frontier-squid<', '>&xxe;<');
    expectFailure(xml, 'RD_XML_FORBIDDEN', 2);
  });

  it('refuses billion laughs at once', () => {
    const defs = ['<!ENTITY lol "lol">', ...Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`)];
    const xml = `<?xml version="1.0"?>\n<!DOCTYPE lolz [\n${defs.join('\n')}\n]>\n<lolz>&lol9;</lolz>`;
    const t0 = Date.now();
    expectFailure(xml, 'RD_XML_FORBIDDEN', 2);
    expect(Date.now() - t0).toBeLessThan(500);
  });

  it('refuses an ENTITY declaration even without DOCTYPE, and undeclared entities', () => {
    expectFailure(`${OK}\n<!ENTITY x "y">`, 'RD_XML_FORBIDDEN', OK.split('\n').length + 1);
    expectFailure(swap('>frontier-squid<', '>&xxe;<'), 'RD_XML_MALFORMED', 3, /<release:productName> .*&xxe;.* not defined/);
  });

  it('refuses nesting deeper than 32 with the line of the first too-deep element, quickly even when huge', () => {
    const deep = (n: number) => `${'<repofile:x>\n'.repeat(n)}${'</repofile:x>'.repeat(n)}`;
    const xml = swap('<repofile:protect>1</repofile:protect>', deep(40));
    // root (1) > yumRepofile (2) > yumRepository (3) > x... : the 30th x is the 33rd level
    const first = lineOf(xml, '<repofile:x>');
    expectFailure(xml, 'RD_XML_INVALID', first + 29, /deeper than 32/);
    expect(() => parseReleaseXml(swap('<repofile:protect>1</repofile:protect>', deep(28)))).not.toThrow();
    const t0 = Date.now();
    expectFailure(`<a>${'<b>'.repeat(100_000)}${'</b>'.repeat(100_000)}</a>`, 'RD_XML_INVALID', 1);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('refuses more than 1 MiB', () => {
    const big = swap(
      /<release:releaseNotes>.*<\/release:releaseNotes>/,
      `<release:releaseNotes>${'x'.repeat(1024 * 1024)}</release:releaseNotes>`,
    );
    const e = expectFailure(Buffer.from(big), 'RD_XML_INVALID', undefined, /limited to 1048576 bytes/);
    expect(e.details.limit).toBe(1024 * 1024);
  });

  it('refuses bytes that are not UTF-8, naming the line', () => {
    const bytes = Buffer.concat([
      Buffer.from(OK.slice(0, OK.indexOf('HTTP caching'))),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(OK.slice(OK.indexOf('HTTP caching'))),
    ]);
    expectFailure(bytes, 'RD_XML_MALFORMED', 9, /not UTF-8/);
  });
});

describe('parseReleaseXml: one release per file', () => {
  it('refuses two releases in one file', () => {
    const body = OK.slice(OK.indexOf('<release:release '));
    const xml = `${OK}\n${body}`;
    expectFailure(xml, 'RD_XML_MALFORMED', lineOf(xml, '<release:release ', OK.length), /exactly one release/);
  });

  it('refuses two empty roots and a release nested in a release', () => {
    const ns = 'xmlns:release="http://repo.egi.eu/0.2/release"';
    expectFailure(`<release:release ${ns}/>\n<release:release ${ns}/>`, 'RD_XML_MALFORMED', 2, /exactly one release/);
    const nested = swap(
      '\t<release:productName>',
      `\t<release:release>\n\t<release:productName>`,
      swap('</release:release>', '</release:release></release:release>'),
    );
    expectFailure(nested, 'RD_XML_INVALID', 3, '<release:release> does not take <release:release>');
  });
});

describe('parseReleaseXml: namespaces', () => {
  it('refuses a root in another namespace URI', () => {
    const xml = swap('xmlns:release="http://repo.egi.eu/0.2/release"', 'xmlns:release="http://repo.egi.eu/0.3/release"');
    const e = expectFailure(
      xml,
      'RD_XML_NAMESPACE',
      2,
      /<release:release> is in the namespace "http:\/\/repo\.egi\.eu\/0\.3\/release"; release\.xml v0\.2 has it in "http:\/\/repo\.egi\.eu\/0\.2\/release"/,
    );
    expect(e.details.element).toBe('release:release');
  });

  it('refuses a child in a wrong namespace, an unbound prefix and an element in no namespace', () => {
    expectFailure(
      swap('xmlns:UMDmeta="http://repo.egi.eu/0.2/UMDmeta"', 'xmlns:UMDmeta="http://example.org/UMDmeta"'),
      'RD_XML_NAMESPACE',
      21,
      /<UMDmeta:UMDmeta>/,
    );
    expectFailure(
      swap('<release:ISODate>20261115</release:ISODate>', '<rel:ISODate>20261115</rel:ISODate>'),
      'RD_XML_NAMESPACE',
      11,
      /prefix "rel"/,
    );
    expectFailure(
      swap('<release:ISODate>20261115</release:ISODate>', '<ISODate>20261115</ISODate>'),
      'RD_XML_NAMESPACE',
      11,
      /<ISODate> is in no namespace/,
    );
    expectFailure(
      swap('<release:ISODate>20261115</release:ISODate>', '<UMDmeta:ISODate>20261115</UMDmeta:ISODate>'),
      'RD_XML_NAMESPACE',
      11,
    );
  });
});

describe('parseReleaseXml: elements and values, from the table', () => {
  it('names the parent and its line when a required element is missing', () => {
    const xml = swap(/\s*<release:productShortName>.*<\/release:productShortName>/, '');
    const e = expectFailure(xml, 'RD_XML_INVALID', 2, 'release.xml line 2: <release:release> lacks required <release:productShortName>');
    expect(e.details).toMatchObject({ element: 'release:release', missing: 'release:productShortName' });
    expectFailure(
      swap(/\s*<UMDmeta:targetArch>.*<\/UMDmeta:targetArch>/, ''),
      'RD_XML_INVALID',
      21,
      '<UMDmeta:UMDmeta> lacks required <UMDmeta:targetArch>',
    );
    expectFailure(swap(PKG_LINE, ''), 'RD_XML_INVALID', 25, '<UMDmeta:packages> lacks required <UMDmeta:package>');
    const r = OK.replace(/\brelease:/g, 'r:').replace('xmlns:release=', 'xmlns:r=');
    expectFailure(swap(/\s*<r:ISODate>.*<\/r:ISODate>/, '', r), 'RD_XML_INVALID', 2, '<r:release> lacks required <r:ISODate>');
  });

  it('refuses an ISODate that is not YYYYMMDD or not a real date', () => {
    const e = expectFailure(
      swap('20261115', '2026-11-15'),
      'RD_XML_INVALID',
      11,
      'release.xml line 11: <release:ISODate> "2026-11-15" is not a date in YYYYMMDD form',
    );
    expect(e.details).toMatchObject({ element: 'release:ISODate', value: '2026-11-15' });
    expectFailure(swap('20261115', '20260230'), 'RD_XML_INVALID', 11);
    expectFailure(swap('20261115', '20261301'), 'RD_XML_INVALID', 11);
    expect(parseReleaseXml(swap('20261115', '20240229')).isoDate).toBe('20240229');
  });

  it('refuses booleans other than true/false, and a productShortName that is no plain directory name', () => {
    expectFailure(swap('<release:incremental>false<', '<release:incremental>no<'), 'RD_XML_INVALID', 12, /"no" is not true or false/);
    for (const bad of ['../etc', 'a/b', 'a..b', '.hidden', '', 'x'.repeat(129), 'a b']) {
      expectFailure(
        swap('>EXAMPLETP.frontier-squid.centos7.x86_64</release:productShortName>', `>${bad}</release:productShortName>`),
        'RD_XML_INVALID',
        4,
      );
    }
  });

  it('refuses an element twice, an unknown element, text among elements and elements in text', () => {
    const twice = swap(
      '<release:ISODate>20261115</release:ISODate>',
      '<release:ISODate>20261115</release:ISODate>\n\t<release:ISODate>20261116</release:ISODate>',
    );
    const e = expectFailure(twice, 'RD_XML_INVALID', 12, /<release:ISODate> appears again \(first on line 11\)/);
    expect(e.details.lines).toEqual([11, 12]);
    expectFailure(
      swap('<release:ISODate>', '<release:IsoDate>20261115</release:IsoDate><release:ISODate>'),
      'RD_XML_INVALID',
      11,
      '<release:release> does not take <release:IsoDate>',
    );
    expectFailure(swap('<UMDmeta:packages>', '<UMDmeta:packages>stray'), 'RD_XML_INVALID', 25, /<UMDmeta:packages> holds the text "stray"/);
    expectFailure(
      swap('>frontier-squid</release:productName>', '>frontier-<b:i xmlns:b="urn:b">squid</b:i></release:productName>'),
      'RD_XML_INVALID',
      3,
      /holds the element <b:i>/,
    );
  });

  it('refuses an unknown attribute (a typo must not drop a digest)', () => {
    const e = expectFailure(withPackages(rpm('a', { sha265: DIGEST })), 'RD_XML_INVALID', 26, /unknown attribute sha265=/);
    expect(e.details.attribute).toBe('sha265');
    expectFailure(
      withPackages(pkg({ arch: 'x86_64', pkgname: 'a', release: '1', version: '1', url: 'https://p.example.org/a.rpm' })),
      'RD_XML_INVALID',
      26,
      'lacks the required attribute filename',
    );
  });

  it('refuses control characters in any value', () => {
    expectFailure(
      swap('>frontier-squid</release:productName>', '>frontier\u0001squid</release:productName>'),
      'RD_XML_INVALID',
      3,
      /<release:productName> .*U\+0001/,
    );
    expectFailure(swap('tuned for', 'tuned&#x7f;for'), 'RD_XML_INVALID', 9, /<release:description> .*U\+007F/);
    expectFailure(swap('tuned for', 'tuned&#1;for'), 'RD_XML_MALFORMED', 9, /&#1;/);
    expectFailure(swap('pkgtype="metapackage"', 'pkgtype="meta\u001bpackage"'), 'RD_XML_INVALID', 26, /attribute pkgtype .*U\+001B/);
    expectFailure(
      swap('<!-- x -->', '<!-- \u0007 -->', OK.replace('<UMDmeta:UMDmeta>', '<!-- x --><UMDmeta:UMDmeta>')),
      'RD_XML_MALFORMED',
      21,
      /control character/,
    );
    // multi-line free text is fine
    expect(parseReleaseXml(swap('see the advisory.', 'see\n\tthe advisory.')).releaseNotes).toBe('Security update; see\n\tthe advisory.');
  });
});

describe('parseReleaseXml: names that pass for others, and values too long to store', () => {
  it('refuses a lookalike letter in an ASCII name, naming the character', () => {
    expectFailure(
      swap('EXAMPLETP.frontier', 'EXAMPLETP.fr\u043entier'),
      'RD_XML_INVALID',
      4,
      /<release:productShortName> .*: character 13 is U\+043E, which is not ASCII$/,
    );
    expectFailure(
      swap('pkgname="frontier-squid"', 'pkgname="fr\u043entier-squid"'),
      'RD_XML_INVALID',
      26,
      /attribute pkgname .*: character 3 is U\+043E, which is not ASCII$/,
    );
  });

  it('refuses a productName word mixing Latin with Cyrillic or Greek letters, or holding an invisible formatting character', () => {
    expectFailure(
      swap('>frontier-squid<', '>fr\u043entier-squid<'),
      'RD_XML_INVALID',
      3,
      /mixes Latin and Cyrillic letters: character 3 is the Cyrillic U\+043E$/,
    );
    expectFailure(
      swap('>frontier-squid<', '>frontier-squ\u03b9d<'),
      'RD_XML_INVALID',
      3,
      /mixes Latin and Greek letters: character 13 is the Greek U\+03B9$/,
    );
    const e = expectFailure(
      swap('>frontier-squid<', '>frontier\u202egpj.exe<'),
      'RD_XML_INVALID',
      3,
      /character 9 is U\+202E, an invisible formatting character$/,
    );
    expect(e.message).toContain('"frontier\\u202egpj.exe"'); // quoted escaped: the message cannot reorder itself
    expect(e.message).not.toContain('\u202e');
    expectFailure(swap('>frontier-squid<', '>frontier\u200bsquid<'), 'RD_XML_INVALID', 3, /U\+200B, an invisible formatting character/);
    // whole words in another script, and accented Latin, are names like any other
    expect(parseReleaseXml(swap('>frontier-squid<', '>Фронтир squid für Ελλάδα<')).productName).toBe('Фронтир squid für Ελλάδα');
  });

  it('refuses values longer than the database columns they are stored in', () => {
    expectFailure(swap('>frontier-squid<', `>${'n'.repeat(201)}<`), 'RD_XML_INVALID', 3, /at most 200 characters/);
    expect(parseReleaseXml(swap('>frontier-squid<', `>${'n'.repeat(200)}<`)).productName).toHaveLength(200);
    expectFailure(swap('>x86_64</UMDmeta:targetArch>', `>${'x'.repeat(51)}</UMDmeta:targetArch>`), 'RD_XML_INVALID', 23, /a name of 1-50/);
    expectFailure(
      swap('<release:majorVersion>4<', `<release:majorVersion>${'4'.repeat(33)}<`),
      'RD_XML_INVALID',
      14,
      /a version part of 1-32/,
    );
    expectFailure(swap('version="4.15"', `version="${'4'.repeat(101)}"`), 'RD_XML_INVALID', 26, /a package version of 1-100/);
    expectFailure(swap('release="2.1"', `release="${'2'.repeat(101)}"`), 'RD_XML_INVALID', 26, /a package release of up to 100/);
  });
});

describe('parseReleaseXml: packages', () => {
  it('refuses a package filename that is not a plain file name', () => {
    for (const bad of ['../evil.rpm', 'a/../../evil.rpm', 'dir/a.rpm', '/abs.rpm', 'a.tar.gz', 'a..rpm', '.rpm']) {
      const e = expectFailure(withPackages(rpm('a', { filename: bad })), 'RD_XML_INVALID', 26, /attribute filename/);
      expect(e.details).toMatchObject({ element: 'UMDmeta:package', attribute: 'filename', value: bad });
    }
    expectFailure(withPackages(rpm('a', { pkgname: '../a' })), 'RD_XML_INVALID', 26, /attribute pkgname/);
    expectFailure(withPackages(rpm('a', { arch: 'x86 64' })), 'RD_XML_INVALID', 26, /attribute arch/);
    expectFailure(withPackages(rpm('a', { version: '1/2' })), 'RD_XML_INVALID', 26, /attribute version/);
  });

  it('refuses mixed rpm and deb packages at the first package of the other format', () => {
    const e = expectFailure(
      withPackages(rpm('a'), rpm('b'), deb('c')),
      'RD_XML_INVALID',
      28,
      /"c_1\.0-1_amd64\.deb" is a deb package but "a-1\.0-1\.x86_64\.rpm" \(line 26\) is rpm/,
    );
    expect(e.details.filename).toBe('c_1.0-1_amd64.deb');
  });

  it('refuses a package without url when synchURL is n/a', () => {
    const noUrl = rpm('b', { url: '' });
    expectFailure(
      withPackages(rpm('a'), noUrl),
      'RD_XML_INVALID',
      27,
      /"b-1\.0-1\.x86_64\.rpm" has no url, and <release:synchURL> \(line 20\) is n\/a/,
    );
    expectFailure(
      withPackages(pkg({ arch: 'x86_64', filename: 'a-1-1.x86_64.rpm', pkgname: 'a', release: '1', version: '1' })),
      'RD_XML_INVALID',
      26,
      /has no url/,
    );
    expectFailure(withPackages(rpm('a', { url: 'ftp://p.example.org/a.rpm' })), 'RD_XML_INVALID', 26, /attribute url "ftp:/);
    expectFailure(withPackages(rpm('a', { url: 'https://' })), 'RD_XML_INVALID', 26, /attribute url/);
  });

  it('refuses a bad sha256, on a package or for the bundle', () => {
    for (const bad of [`${'ab'.repeat(31)}a`, 'zz'.repeat(32), 'ab'.repeat(33), `sha256:${'ab'.repeat(32)}`]) {
      expectFailure(withPackages(rpm('a', { sha256: bad })), 'RD_XML_INVALID', 26, /attribute sha256 .* is not a sha256 digest/);
    }
    const bundle = swap(
      '<release:synchURL>n/a</release:synchURL>',
      '<release:synchURL>https://p.example.org/b.tar.gz</release:synchURL>\n\t<release:synchSha256>abc</release:synchSha256>',
    );
    expectFailure(bundle, 'RD_XML_INVALID', 21, /<release:synchSha256> "abc" is not a sha256 digest/);
    const noBundle = swap(
      '<release:synchURL>n/a</release:synchURL>',
      `<release:synchURL>n/a</release:synchURL>\n\t<release:synchSha256>${DIGEST}</release:synchSha256>`,
    );
    expectFailure(noBundle, 'RD_XML_INVALID', 21, /there is no bundle to check/);
  });

  it('refuses the same filename twice, naming both lines', () => {
    const e = expectFailure(
      withPackages(rpm('a'), rpm('b'), rpm('a', { pkgtype: 'binary' })),
      'RD_XML_INVALID',
      28,
      /is listed twice, on lines 26 and 28/,
    );
    expect(e.details.lines).toEqual([26, 28]);
  });

  it('refuses an rpm with an empty release, accepts a native deb', () => {
    expectFailure(withPackages(rpm('a', { release: '' })), 'RD_XML_INVALID', 26, /empty release/);
    expect(parseReleaseXml(withPackages(deb('a', { release: '', filename: 'a_1.0_amd64.deb' }))).packages[0]!.release).toBe('');
  });
});
