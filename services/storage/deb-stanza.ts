import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { controlFile } from './deb-control.ts';

/**
 * The stanza `apt-ftparchive packages` writes for one .deb, made in-process: the control file's fields in
 * apt's order (apt-pkg/tagfile-order.c) with Filename, Size and the four digests in their places. Only for a
 * control whose every field is one of FIELDS, written plainly ("Name: value", continuation lines kept as they
 * are); anything else gives undefined and goes to apt-ftparchive itself. The test compares the two on every
 * test .deb, odd ones included, so a newer apt that orders or writes differently is noticed.
 */
export async function debStanza(path: string, href: string): Promise<string | undefined> {
  const control = await controlFile(path).catch(() => undefined);
  const fields = control === undefined ? undefined : plainFields(control);
  if (!fields) return undefined;
  const d = await digests(path);
  if (!(await wholeArchive(path, d.size))) return undefined;
  const all = new Map(fields);
  all.set('Filename', href);
  all.set('Size', String(d.size));
  all.set('MD5sum', d.md5);
  all.set('SHA1', d.sha1);
  all.set('SHA256', d.sha256);
  all.set('SHA512', d.sha512);
  return `${ORDER.filter((k) => all.has(k))
    .map((k) => `${k}: ${all.get(k)}\n`)
    .join('')}\n`;
}

// biome-ignore format: apt's order, one field per entry
const ORDER = [
  'Package', 'Architecture', 'Version', 'Built-Using', 'Multi-Arch', 'Priority', 'Essential', 'Section', 'Source',
  'Origin', 'Maintainer', 'Original-Maintainer', 'Bugs', 'Installed-Size', 'Provides', 'Pre-Depends', 'Depends',
  'Recommends', 'Suggests', 'Conflicts', 'Breaks', 'Replaces', 'Enhances', 'Filename', 'Size', 'MD5sum', 'SHA1',
  'SHA256', 'SHA512', 'Homepage', 'Description',
];
const ADDED = new Set(['Filename', 'Size', 'MD5sum', 'SHA1', 'SHA256', 'SHA512']);
const FIELDS = new Set(ORDER.filter((k) => !ADDED.has(k)));

/** Field -> value (continuation lines included) of a plainly written control file, or undefined. */
function plainFields(control: string): Map<string, string> | undefined {
  if (!control.endsWith('\n') || /[\r\0\t]/.test(control)) return undefined;
  const out = new Map<string, string>();
  let last: string | undefined;
  for (const line of control.slice(0, -1).split('\n')) {
    if (line.startsWith(' ')) {
      if (last === undefined || line.trim() === '' || line.endsWith(' ')) return undefined;
      out.set(last, `${out.get(last)}\n${line}`);
      continue;
    }
    const m = /^([A-Za-z][A-Za-z0-9-]*): (\S(?:.*\S)?)$/.exec(line);
    if (!m || !FIELDS.has(m[1]!) || out.has(m[1]!)) return undefined;
    last = m[1]!;
    out.set(last, m[2]!);
  }
  return out.has('Package') && out.has('Version') && out.has('Architecture') ? out : undefined;
}

/**
 * debian-binary, control.tar.*, data.tar.* and nothing else, each member whole: apt-ftparchive skips a .deb
 * whose data member is cut short, so that one goes to it to be skipped, with its own words.
 */
async function wholeArchive(path: string, size: number): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const names: string[] = [];
    let at = 8;
    while (at < size) {
      const h = Buffer.alloc(60);
      if ((await fh.read(h, 0, 60, at)).bytesRead !== 60 || h.toString('latin1', 58, 60) !== '`\n') return false;
      const len = h.toString('latin1', 48, 58).trimEnd();
      if (!/^[0-9]{1,10}$/.test(len)) return false;
      names.push(h.toString('latin1', 0, 16).replace(/[ /]+$/, ''));
      at += 60 + Number(len) + (Number(len) % 2);
    }
    return (
      at === size &&
      names.length === 3 &&
      names[0] === 'debian-binary' &&
      /^control\.tar(\.(gz|zst))?$/.test(names[1]!) &&
      /^data\.tar(\.(gz|xz|zst|bz2|lzma))?$/.test(names[2]!)
    );
  } finally {
    await fh.close();
  }
}

async function digests(path: string) {
  const h = ['md5', 'sha1', 'sha256', 'sha512'].map((a) => createHash(a));
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    for (const x of h) x.update(chunk);
  }
  const [md5, sha1, sha256, sha512] = h.map((x) => x.digest('hex')) as [string, string, string, string];
  return { size, md5, sha1, sha256, sha512 };
}
