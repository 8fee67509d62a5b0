import { Header, Parser, Pax, type HeaderData, type ReadEntry } from 'tar';

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

/** Every regular file of a tar.gz by path (what a test then changes and packs again). */
export async function readTar(gz: Buffer): Promise<Record<string, Buffer>> {
  const { gunzipSync } = await import('node:zlib');
  const raw = gunzipSync(gz);
  const out: Record<string, Buffer> = {};
  const parser = new Parser();
  parser.on('entry', (e: ReadEntry) => {
    const chunks: Buffer[] = [];
    e.on('data', (c: Buffer) => chunks.push(c));
    e.on('end', () => {
      if (e.type === 'File') out[e.path.replace(/^\.\//, '')] = Buffer.concat(chunks);
    });
  });
  await new Promise<void>((resolve, reject) => {
    parser.on('end', () => resolve());
    parser.on('error', reject);
    parser.end(raw);
  });
  return out;
}

/** A tar.gz of these files, in this order. */
export async function packTar(files: Record<string, Buffer>): Promise<Buffer> {
  const { gzipSync } = await import('node:zlib');
  return gzipSync(tarOf(...Object.entries(files).map(([path, body]) => entry({ path, body }))));
}
