import { describe, expect, it } from 'vitest';
import type { MirrorFile } from '../../../services/mirror/files.ts';
import { planSync } from '../../../services/mirror/plan.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);
const file = (path: string, sha256: string, phase: MirrorFile['phase'] = 'index', size = 10): MirrorFile => ({
  path,
  sha256,
  size,
  phase,
  source: { file: `/blobs/${sha256}` },
});
const pool = (repo: string, sha: string) => `${repo}/pool/${sha.slice(0, 2)}/${sha}/p.rpm`;

describe('planSync', () => {
  it('sends everything to an empty target, the same content once and copies the rest', () => {
    const view = [file(pool('r1', A), A, 'package'), file(pool('r2', A), A, 'package'), file('r1/repodata/repomd.xml', B, 'signed')];
    const p = planSync(view, [], [], { deleteOrphans: true });
    expect(p.upload.map((u) => [u.path, u.copyFrom])).toEqual([
      [pool('r1', A), undefined],
      [pool('r2', A), pool('r1', A)],
      ['r1/repodata/repomd.xml', undefined],
    ]);
    expect(p.bytesUp).toBe(20);
    expect(p.delete).toEqual([]);
  });

  it('keeps what the target holds under the tag recorded for its digest', () => {
    const view = [file('r/Release', A)];
    const p = planSync(view, [{ path: 'r/Release', size: 10, tag: 't1' }], [{ path: 'r/Release', sha256: A, size: 10, tag: 't1' }], {
      deleteOrphans: false,
    });
    expect(p.upload).toEqual([]);
    expect(p.unchanged).toBe(1);
  });

  it('sends an index again when its content changed here, and names one changed on the target behind its back', () => {
    const listed = [
      { path: 'r/Release', size: 10, tag: 't1' },
      { path: 'r/InRelease', size: 10, tag: 'tampered' },
    ];
    const known = [
      { path: 'r/Release', sha256: A, size: 10, tag: 't1' },
      { path: 'r/InRelease', sha256: C, size: 10, tag: 't2' },
    ];
    const p = planSync([file('r/Release', B), file('r/InRelease', C)], listed, known, { deleteOrphans: false });
    expect(p.upload.map((u) => u.path)).toEqual(['r/Release', 'r/InRelease']);
    expect(p.changedOnTarget).toEqual(['r/InRelease']);
  });

  it('adopts a pool file that landed before its record (a killed sync) instead of sending it again', () => {
    const p = planSync([file(pool('r', A), A, 'package')], [{ path: pool('r', A), size: 10, tag: 'e' }], [], { deleteOrphans: false });
    expect(p.upload).toEqual([]);
    expect(p.adopt).toEqual([{ path: pool('r', A), sha256: A, size: 10, tag: 'e' }]);
  });

  it('sends an unrecorded index file again: its path does not name its digest', () => {
    const p = planSync([file('r/Release', A)], [{ path: 'r/Release', size: 10, tag: 'e' }], [], { deleteOrphans: false });
    expect(p.upload.map((u) => u.path)).toEqual(['r/Release']);
  });

  it('deletes orphans only when told to, and counts their bytes', () => {
    const listed = [
      { path: 'old/x', size: 7, tag: 'e' },
      { path: 'r/Release', size: 10, tag: 't' },
    ];
    const known = [{ path: 'r/Release', sha256: A, size: 10, tag: 't' }];
    expect(planSync([file('r/Release', A)], listed, known, { deleteOrphans: false }).delete).toEqual([]);
    const p = planSync([file('r/Release', A)], listed, known, { deleteOrphans: true });
    expect(p.delete.map((d) => d.path)).toEqual(['old/x']);
    expect(p.bytesDeleted).toBe(7);
  });
});
