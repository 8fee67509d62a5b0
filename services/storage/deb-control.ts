import { open } from 'node:fs/promises';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';

/**
 * What `dpkg-deb -f PACKAGE Package Version Architecture Depends Pre-Depends Provides` prints, computed
 * in-process (ar -> control.tar.{gz,zst} or control.tar -> control), for the .debs whose shape is plain:
 * everything dpkg would check is checked here strictly, and anything outside that (control.tar.xz, which
 * node cannot decompress, an odd tar, a field dpkg validates in ways not repeated here, syntax dpkg would
 * only warn about or rewrite) gives undefined: the caller then runs dpkg-deb itself, for the same answer or
 * the same error. dpkg re-serialises what it parsed: versions without a zero epoch, relations `<`/`>` as
 * `<=`/`>=`, dependencies on one line with single spaces; so does this.
 */
export async function debControlFields(path: string): Promise<string | undefined> {
  const control = await controlFile(path).catch(() => undefined);
  return control === undefined ? undefined : fieldsOf(control);
}

const MAX_CONTROL_MEMBER = 4 * 2 ** 20;

async function controlFile(path: string): Promise<string | undefined> {
  const fh = await open(path, 'r');
  try {
    const read = async (at: number, n: number) => {
      const b = Buffer.alloc(n);
      const { bytesRead } = await fh.read(b, 0, n, at);
      return bytesRead === n ? b : undefined;
    };
    const head = await read(0, 8 + 60 + 4 + 60);
    if (head?.toString('latin1', 0, 8) !== '!<arch>\n') return undefined;
    const first = member(head, 8);
    if (first?.name !== 'debian-binary' || first.size !== 4 || head.toString('latin1', 68, 72) !== '2.0\n') return undefined;
    const second = member(head, 72);
    if (!second || second.size > MAX_CONTROL_MEMBER) return undefined;
    const body = await read(132, second.size);
    if (!body) return undefined;
    const tar =
      second.name === 'control.tar.gz'
        ? gunzipSync(body)
        : second.name === 'control.tar.zst'
          ? zstdDecompressSync(body)
          : second.name === 'control.tar'
            ? body
            : undefined;
    return tar && controlOfTar(tar);
  } finally {
    await fh.close();
  }
}

/** An ar member header at `at`: its name (trailing blanks and `/` dropped) and size. */
function member(b: Buffer, at: number): { name: string; size: number } | undefined {
  if (b.toString('latin1', at + 58, at + 60) !== '`\n') return undefined;
  const size = b.toString('latin1', at + 48, at + 58).trimEnd();
  if (!/^[0-9]{1,10}$/.test(size)) return undefined;
  return { name: b.toString('latin1', at, at + 16).replace(/[ /]+$/, ''), size: Number(size) };
}

/** The `control` file of a plain ustar archive of regular files (and `./`), or undefined. */
function controlOfTar(tar: Buffer): string | undefined {
  let control: string | undefined;
  for (let at = 0; ; ) {
    if (at + 512 > tar.length) return undefined; // no end-of-archive block
    const h = tar.subarray(at, at + 512);
    if (h.every((x) => x === 0)) return control;
    if (!checksumOk(h) || h.toString('latin1', 257, 262) !== 'ustar' || h[345] !== 0) return undefined;
    const name = cString(h, 0, 100);
    const size = Number.parseInt(cString(h, 124, 12).trim() || 'x', 8);
    const type = String.fromCharCode(h[156]!);
    if (!Number.isFinite(size) || at + 512 + size > tar.length) return undefined;
    if (type === '5' && name === './' && size === 0) {
      // the top directory
    } else if ((type === '0' || type === '\0') && /^(\.\/)?[A-Za-z0-9_+-][A-Za-z0-9._+-]*$/.test(name)) {
      if (name.replace(/^\.\//, '') === 'control') {
        if (control !== undefined) return undefined;
        control = tar.toString('utf8', at + 512, at + 512 + size);
      }
    } else return undefined;
    at += 512 + Math.ceil(size / 512) * 512;
  }
}

function checksumOk(h: Buffer): boolean {
  const want = Number.parseInt(cString(h, 148, 8).trim() || 'x', 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === want;
}

const cString = (b: Buffer, at: number, n: number) => {
  const s = b.subarray(at, at + n);
  const end = s.indexOf(0);
  return s.toString('latin1', 0, end < 0 ? n : end);
};

/** Fields dpkg checks and how (see fieldsOf); any other field dpkg knows makes the file go to dpkg-deb. */
const FREE_TEXT = new Set(['maintainer', 'description', 'section', 'priority', 'installed-size', 'source', 'origin', 'bugs']);
const DEPENDS = new Set(['depends', 'pre-depends', 'recommends', 'suggests', 'enhances']);
const NO_ALTERNATIVES = new Set(['provides', 'conflicts', 'breaks', 'replaces']);
// biome-ignore format: a list of names
const DPKG_KNOWN = [
  'package', 'essential', 'protected', 'status', 'priority', 'section', 'installed-size', 'origin', 'maintainer', 'bugs',
  'architecture', 'multi-arch', 'source', 'version', 'revision', 'package-revision', 'package_revision', 'config-version',
  'replaces', 'provides', 'depends', 'pre-depends', 'recommends', 'suggests', 'breaks', 'conflicts', 'enhances', 'conffiles',
  'filename', 'size', 'md5sum', 'msdos-filename', 'description', 'triggers-pending', 'triggers-awaited',
];

/** dpkg-deb -f's output for one control stanza, or undefined when dpkg must decide. */
function fieldsOf(control: string): string | undefined {
  const f = stanza(control);
  if (!f) return undefined;
  const name = f.get('package');
  const version = f.get('version') && canonicalVersion(f.get('version')!);
  const arch = f.get('architecture');
  if (!name || !PACKAGE.test(name) || !version || !arch || !/^[a-z0-9][a-z0-9-]*$/.test(arch)) return undefined;
  const out = new Map([
    ['Package', name],
    ['Version', version],
    ['Architecture', arch],
  ]);
  for (const [key, value] of f) {
    if (['package', 'version', 'architecture'].includes(key) || FREE_TEXT.has(key)) continue;
    if (DEPENDS.has(key) || NO_ALTERNATIVES.has(key)) {
      const deps = canonicalDeps(value, !DEPENDS.has(key), key === 'provides');
      if (deps === undefined) return undefined;
      if (key === 'depends') out.set('Depends', deps);
      if (key === 'pre-depends') out.set('Pre-Depends', deps);
      if (key === 'provides') out.set('Provides', deps);
    } else if (key === 'essential' || key === 'protected') {
      if (value !== 'yes' && value !== 'no') return undefined;
    } else if (key === 'multi-arch') {
      if (!['no', 'foreign', 'allowed', 'same'].includes(value) || (value === 'same' && arch === 'all')) return undefined;
    } else if (DPKG_KNOWN.includes(key)) return undefined;
  }
  const order = ['Package', 'Version', 'Architecture', 'Depends', 'Pre-Depends', 'Provides'];
  return order.flatMap((k) => (out.has(k) ? [`${k}: ${out.get(k)}\n`] : [])).join('');
}

/** One deb822 stanza, field names lower-cased, values trimmed (continuation lines kept); undefined if odd. */
function stanza(text: string): Map<string, string> | undefined {
  if (!text.endsWith('\n') || /[\r\0]/.test(text)) return undefined;
  const fields = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    if (/^[ \t]/.test(line)) {
      if (last === undefined || !line.trim()) return undefined;
      fields.set(last, `${fields.get(last)}\n${line}`);
      continue;
    }
    const m = /^([A-Za-z][A-Za-z0-9-]*):(.*)$/.exec(line);
    if (!m) return undefined;
    last = m[1]!.toLowerCase();
    if (fields.has(last)) return undefined;
    fields.set(last, m[2]!);
  }
  for (const [k, v] of fields) {
    const value = v.trim();
    if (!value) return undefined;
    fields.set(k, value);
  }
  return fields;
}

/** what dpkg takes as a name and writes back unchanged (it lower-cases; `_` is deprecated) */
const PACKAGE = /^[a-z0-9][a-z0-9+.-]*$/;

/** `[epoch:]upstream[-revision]` as dpkg writes it back (no epoch when zero); undefined where dpkg would object or warn. */
function canonicalVersion(v: string): string | undefined {
  const m = /^(?:([0-9]{1,9}):)?([0-9][A-Za-z0-9.+~-]*)$/.exec(v);
  if (!m) return undefined;
  const epoch = Number(m[1] ?? '0');
  const rest = m[2]!;
  const dash = rest.lastIndexOf('-');
  if (dash >= 0 && !/^[A-Za-z0-9.+~]+$/.test(rest.slice(dash + 1))) return undefined;
  return epoch ? `${epoch}:${rest}` : rest;
}

const RELATIONS: Record<string, string> = { '<<': '<<', '<=': '<=', '=': '=', '>=': '>=', '>>': '>>', '<': '<=', '>': '>=' };

/** A dependency field as dpkg writes it back; undefined where dpkg would object, or for syntax not handled here. */
function canonicalDeps(value: string, single: boolean, onlyEquals: boolean): string | undefined {
  const groups: string[] = [];
  for (const group of value.split(',')) {
    const alts = group.split('|');
    if (single && alts.length > 1) return undefined;
    const out: string[] = [];
    for (const alt of alts) {
      const m = /^[ \t\n]*([a-z0-9][a-z0-9+.-]*)[ \t\n]*(?:\([ \t\n]*(<<|<=|>=|>>|=|<|>)[ \t\n]*([^ \t\n()]+)[ \t\n]*\)[ \t\n]*)?$/.exec(
        alt,
      );
      if (!m) return undefined;
      if (m[2] === undefined) {
        out.push(m[1]!);
        continue;
      }
      const version = canonicalVersion(m[3]!);
      if (!version || (onlyEquals && m[2] !== '=')) return undefined;
      out.push(`${m[1]} (${RELATIONS[m[2]]} ${version})`);
    }
    groups.push(out.join(' | '));
  }
  return groups.join(', ');
}
