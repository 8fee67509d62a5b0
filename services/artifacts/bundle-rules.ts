import { RdError } from '../errors.ts';

/**
 * What a bundle may contain, checked header by header before anything is written: regular files
 * and directories under plain relative paths, each once, within the entry and byte limits.
 * Pure: no I/O.
 */

export type BundleLimits = { maxEntries: number; maxBytes: number };
export type BundleFile = { path: string; size: number };
type Kind = 'file' | 'dir';

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const REFUSED_TYPES: Record<string, string> = {
  SymbolicLink: 'is a symbolic link',
  Link: 'is a hard link',
  CharacterDevice: 'is a character device',
  BlockDevice: 'is a block device',
  FIFO: 'is a FIFO',
};

/** An entry name as a message shows it: quoted, escaped (no control or bidi character reaches the ticket), cut at 120. */
const shown = (name: string) =>
  JSON.stringify(name.length > 120 ? `${name.slice(0, 117)}...` : name).replace(/[\u007F-\u009F\u2028\u2029\p{Cf}]/gu, (c) =>
    [...Array(c.length).keys()].map((i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
  );

export const unsafe = (entry: string, why: string) =>
  new RdError('RD_BUNDLE_UNSAFE', `bundle entry ${shown(entry)} ${why}`, { entry, reason: why });

/** The entry's path relative to the bundle root ('' for "./"), or RD_BUNDLE_UNSAFE. */
export function safeRelativePath(name: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(name)) throw unsafe(name, 'has a control character or backslash in its path');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw unsafe(name, 'has an absolute path');
  const segments = name.split('/');
  if (segments.includes('..')) throw unsafe(name, 'has a ".." path segment');
  if (segments.some((s) => Buffer.byteLength(s) > 255) || Buffer.byteLength(name) > 4095) {
    throw unsafe(name, 'has a path too long for the file system');
  }
  return segments.filter((s) => s !== '' && s !== '.').join('/');
}

function kindOf(name: string, type: string, linkpath?: string): Kind {
  if (FILE_TYPES.has(type)) return 'file';
  if (type === 'Directory') return 'dir';
  const refused = REFUSED_TYPES[type];
  if (refused) throw unsafe(name, linkpath ? `${refused} (to ${shown(linkpath)})` : refused);
  throw unsafe(name, `has the unsupported tar type ${type}`);
}

/** Counts and checks every header of one pass; throws at the first entry that breaks a rule. */
export class BundleLedger {
  readonly files: BundleFile[] = [];
  private entries = 0;
  private bytes = 0;
  private readonly seen = new Map<string, Kind | 'implied'>();

  private readonly limits: BundleLimits;

  constructor(limits: BundleLimits) {
    this.limits = limits;
  }

  add(name: string, type: string, size: number, linkpath?: string): { path: string; kind: Kind } {
    const kind = kindOf(name, type, linkpath);
    const path = safeRelativePath(name);
    if (++this.entries > this.limits.maxEntries) {
      throw limit(`has more than ${this.limits.maxEntries} entries`, { maxEntries: this.limits.maxEntries, entry: name });
    }
    this.bytes += size;
    if (this.bytes > this.limits.maxBytes) {
      throw limit(`unpacks to more than ${this.limits.maxBytes} bytes (at ${shown(name)})`, {
        maxBytes: this.limits.maxBytes,
        entry: name,
      });
    }
    if (path === '') {
      if (kind === 'file') throw unsafe(name, 'is a file without a name');
      return { path, kind };
    }
    this.claim(name, path, kind);
    if (kind === 'file') this.files.push({ path, size });
    return { path, kind };
  }

  /** Refuses a second entry at the same path, and a path used both as a file and as a directory. */
  private claim(name: string, path: string, kind: Kind): void {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (this.seen.get(parent) === 'file') throw unsafe(name, `is inside "${parent}", which is a file`);
      if (!this.seen.has(parent)) this.seen.set(parent, 'implied');
    }
    const before = this.seen.get(path);
    if (before === 'implied' && kind === 'file') throw unsafe(name, 'is a file where other entries need a directory');
    if (before === 'implied') return void this.seen.set(path, kind);
    if (before) throw unsafe(name, 'appears more than once');
    this.seen.set(path, kind);
  }
}

export const limit = (what: string, details: Record<string, unknown>) => new RdError('RD_BUNDLE_LIMIT', `the bundle ${what}`, details);

export const corrupt = (why: string, details: Record<string, unknown> = {}) =>
  new RdError('RD_BUNDLE_CORRUPT', `the bundle is not a readable tar.gz: ${why}`, details);
