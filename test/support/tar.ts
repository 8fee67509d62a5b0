import { Header, Pax, type HeaderData } from 'tar';

/** One raw tar entry: a 512-byte header (encoded by node-tar, after a pax header for a long path) and its padded body. */
export function entry(h: HeaderData & { body?: Buffer | string }): Buffer {
  const body = Buffer.from(h.body ?? '');
  const header = Buffer.alloc(512);
  new Header({ mode: 0o644, uid: 0, gid: 0, mtime: new Date(0), type: 'File', size: body.length, ...h }).encode(header, 0);
  const pax = Buffer.byteLength(h.path ?? '') > 100 ? new Pax({ path: h.path, mtime: new Date(0) }).encode() : Buffer.alloc(0);
  return Buffer.concat([pax, header, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}
export const END = Buffer.alloc(1024);
export const tarOf = (...entries: Buffer[]) => Buffer.concat([...entries, END]);
