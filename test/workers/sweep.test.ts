import { mkdir, mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../services/log.ts';
import { sweepLeftovers } from '../../workers/sweep.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rd-sweep-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const DEAD = 2 ** 22 + 12345; // above pid_max's default: no such process
const mk = async (...p: string[]) => {
  await mkdir(join(dir, ...p), { recursive: true });
  return join(dir, ...p);
};

describe('sweepLeftovers', () => {
  it("removes a dead process's builds and mirror scratch, and anything over an hour old; keeps a live one's and the versions", async () => {
    const product = ['repos', '.versions', 'production', 'P'];
    const dist = ['repos', 'dist', '.versions', 'yum', 'el9', 'x86_64', 'production'];
    await mk(...product, '3');
    await mk(...product, `.build-1-${DEAD}-aa`);
    await mk(...product, `.build-1-${process.pid}-bb`);
    await mk(...dist, `.build-1-${DEAD}-cc`);
    await mk(...dist, '7');
    const old = await mk(...dist, `.build-1-${process.pid}-dd`);
    await utimes(old, new Date(Date.now() - 2 * 3_600_000), new Date(Date.now() - 2 * 3_600_000));
    await mk('tmp', `mirror-${DEAD}-x1`);
    await mk('tmp', `mirror-${process.pid}-x2`);
    await mk('tmp', 'inbox-5');
    expect(await sweepLeftovers(dir, createLogger('silent'))).toBe(4);
    expect((await readdir(join(dir, ...product))).sort()).toEqual([`.build-1-${process.pid}-bb`, '3'].sort());
    expect(await readdir(join(dir, ...dist))).toEqual(['7']);
    expect((await readdir(join(dir, 'tmp'))).sort()).toEqual(['inbox-5', `mirror-${process.pid}-x2`]);
  });
});
