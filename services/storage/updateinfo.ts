/**
 * updateinfo.xml for a Production YUM distribution: one advisory per release there, built from its
 * release.xml (release notes, change log, version) and its ticket, in the format dnf (libdnf/libsolv) reads
 * and Fedora's Bodhi writes. Pure: no I/O.
 *
 * Id: `<ADVISORY_PREFIX>-<year of release.xml isoDate>-<ticket>`, e.g. RD-2026-1234: the ticket is unique and
 * the year is the release's own, so the id never changes when the repository is published again.
 * Type: `security` for an emergency release (release.xml <emergency>), else `enhancement`: release.xml does
 * not say whether a release fixes bugs, and dnf's `--bugfix` filter would then claim more than it knows.
 */
export interface AdvisoryPackage {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
  /** the file name dnf downloads */
  filename: string;
  sha256: string;
}

export interface Advisory {
  ticketId: number;
  /** where people read the ticket (RT's Ticket/Display.html), when known */
  ticketUrl?: string;
  productName: string;
  productShortName: string;
  version: string;
  releaseNotes: string;
  changeLog: string;
  description?: string;
  emergency: boolean;
  /** release.xml isoDate, YYYYMMDD */
  isoDate: string;
  /** the product revision in Production (v1, v2...), when allocated */
  revision?: number | null;
  packages: AdvisoryPackage[];
}

export function advisoryId(prefix: string, a: Pick<Advisory, 'ticketId' | 'isoDate'>): string {
  return `${prefix}-${a.isoDate.slice(0, 4)}-${a.ticketId}`;
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
// XML 1.0 cannot carry most C0 controls even escaped; release.xml text was checked, this is defence in depth
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

/** YYYYMMDD -> "YYYY-MM-DD 00:00:00", the date format dnf parses. */
const issued = (isoDate: string) => `${isoDate.slice(0, 4)}-${isoDate.slice(4, 6)}-${isoDate.slice(6, 8)} 00:00:00`;

function description(a: Advisory): string {
  const parts = [
    a.releaseNotes.trim() && `Release notes:\n${a.releaseNotes.trim()}`,
    a.changeLog.trim() && `Change log:\n${a.changeLog.trim()}`,
    !a.releaseNotes.trim() && !a.changeLog.trim() && (a.description?.trim() || `${a.productName} ${a.version}`),
  ];
  // dnf shows references of type bugzilla and cve only: the ticket goes into the text as well
  const ticket = `Release ticket: #${a.ticketId}${a.ticketUrl ? ` ${a.ticketUrl}` : ''}`;
  return [...parts.filter(Boolean), ticket].join('\n\n');
}

function update(prefix: string, a: Advisory): string {
  const title = `${a.productName} ${a.version}`;
  const ref = a.ticketUrl
    ? `      <reference href="${esc(a.ticketUrl)}" id="${a.ticketId}" type="self" title="${esc(`release ticket #${a.ticketId}`)}"/>\n`
    : '';
  const pkgs = a.packages
    .toSorted((x, y) => x.filename.localeCompare(y.filename))
    .map(
      (p) =>
        `        <package name="${esc(p.name)}" version="${esc(p.version)}" release="${esc(p.release)}" epoch="${p.epoch}" arch="${esc(p.arch)}">\n` +
        `          <filename>${esc(p.filename)}</filename>\n          <sum type="sha256">${p.sha256}</sum>\n        </package>\n`,
    )
    .join('');
  return [
    `  <update from="releasedesk" status="stable" type="${a.emergency ? 'security' : 'enhancement'}" version="1">\n`,
    `    <id>${esc(advisoryId(prefix, a))}</id>\n`,
    `    <title>${esc(title)}</title>\n`,
    `    <issued date="${issued(a.isoDate)}"/>\n`,
    `    <release>${esc(a.productShortName)}${a.revision ? ` v${a.revision}` : ''}</release>\n`,
    a.emergency ? '    <severity>Important</severity>\n' : '',
    `    <summary>${esc(title)}</summary>\n`,
    `    <description>${esc(description(a))}</description>\n`,
    `    <references>\n${ref}    </references>\n`,
    '    <pkglist>\n',
    `      <collection short="${esc(a.productShortName)}">\n`,
    `        <name>${esc(a.productName)}</name>\n`,
    pkgs,
    '      </collection>\n',
    '    </pkglist>\n',
    '  </update>\n',
  ].join('');
}

/** The whole document, advisories ordered by id so that the same releases give the same bytes. */
export function buildUpdateinfo(prefix: string, advisories: Advisory[]): string {
  const sorted = advisories.toSorted((a, b) => a.ticketId - b.ticketId);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<updates>\n${sorted.map((a) => update(prefix, a)).join('')}</updates>\n`;
}
