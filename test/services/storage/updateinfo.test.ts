import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { advisoryId, buildUpdateinfo, type Advisory } from '../../../services/storage/updateinfo.ts';

const a = (ticketId: number, o: Partial<Advisory> = {}): Advisory => ({
  ticketId,
  productName: 'Demo Tool',
  productShortName: 'DEMO.tool.el9.x86_64',
  version: '1.2.3',
  releaseNotes: 'notes',
  changeLog: 'log',
  emergency: false,
  isoDate: '20251231',
  packages: [
    { name: 'demo', epoch: 0, version: '1.2.3', release: '1', arch: 'x86_64', filename: 'demo-1.2.3-1.x86_64.rpm', sha256: 'a'.repeat(64) },
  ],
  ...o,
});
const parse = (xml: string) => new XMLParser({ ignoreAttributes: false, parseTagValue: false, isArray: (n) => n === 'update' }).parse(xml);

describe('updateinfo.xml', () => {
  it('ids are <PREFIX>-<year of the release date>-<ticket>', () => {
    expect(advisoryId('RD', a(1234))).toBe('RD-2025-1234');
    expect(advisoryId('UMD', a(7, { isoDate: '20270101' }))).toBe('UMD-2027-7');
  });

  it('is well-formed, with text that XML would break escaped', () => {
    const xml = buildUpdateinfo('RD', [a(1, { releaseNotes: 'a < b && c > "d"', productName: "O'Brien <tools>" })]);
    expect(XMLValidator.validate(xml)).toBe(true);
    const u = parse(xml).updates.update[0];
    expect(u.title).toBe("O'Brien <tools> 1.2.3");
    expect(u.description).toContain('a < b && c > "d"');
  });

  it('an emergency release is a security advisory of severity Important; others are enhancements', () => {
    const [normal, urgent] = parse(buildUpdateinfo('RD', [a(1), a(2, { emergency: true })])).updates.update;
    expect([normal['@_type'], normal.severity]).toEqual(['enhancement', undefined]);
    expect([urgent['@_type'], urgent.severity]).toEqual(['security', 'Important']);
  });

  it('carries the version, notes, change log, ticket and every package with its checksum', () => {
    const u = parse(buildUpdateinfo('RD', [a(9, { ticketUrl: 'http://rt/Ticket/Display.html?id=9', revision: 2 })])).updates.update[0];
    expect(u.id).toBe('RD-2025-9');
    expect(u.issued['@_date']).toBe('2025-12-31 00:00:00');
    expect(u.release).toBe('DEMO.tool.el9.x86_64 v2');
    expect(u.description).toBe('Release notes:\nnotes\n\nChange log:\nlog\n\nRelease ticket: #9 http://rt/Ticket/Display.html?id=9');
    expect(u.references.reference['@_href']).toBe('http://rt/Ticket/Display.html?id=9');
    const p = u.pkglist.collection.package;
    expect([p['@_name'], p['@_epoch'], p['@_version'], p['@_release'], p['@_arch'], p.filename, p.sum['#text']]).toEqual([
      'demo',
      '0',
      '1.2.3',
      '1',
      'x86_64',
      'demo-1.2.3-1.x86_64.rpm',
      'a'.repeat(64),
    ]);
  });

  it('the same releases give the same bytes, whatever their order', () => {
    expect(buildUpdateinfo('RD', [a(2), a(1)])).toBe(buildUpdateinfo('RD', [a(1), a(2)]));
  });
});
