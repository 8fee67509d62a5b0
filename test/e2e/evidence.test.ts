import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../services/cli/main.ts';
import { PREDICATE_TYPE, STATEMENT_TYPE } from '../../services/evidence/statement.ts';
import { openTicket, rpmSpec, STEP, useE2E, waitForComment, waitForStatus } from '../support/e2e.ts';
import { releaseXml } from '../support/release-xml.ts';
import { rtClient } from '../support/rt.ts';

// The evidence receipt of a release taken to Production through the real RT by the three roles: served,
// attached to the ticket, signed with the repository key, and checked offline against the live repository;
// a tampered receipt and a repository with a swapped package are refused.
const e = useE2E();

async function cli(...args: string[]): Promise<{ code: number; text: string }> {
  const printed: string[] = [];
  const [log, err] = [console.log, console.error];
  console.log = (s: string) => void printed.push(s);
  console.error = (s: string) => void printed.push(s);
  try {
    return { code: await run(args), text: printed.join('\n') };
  } finally {
    [console.log, console.error] = [log, err];
  }
}

describe('the evidence receipt', () => {
  it('is made when a release reaches Production, attached to its ticket, and verifies offline against the repository', async () => {
    const product = `TESTTP.evidence.${e.run}`;
    const pkgs = [rpmSpec(e, 'testpkg'), rpmSpec(e, 'testpkg-dep')];
    const t = await openTicket(e, releaseXml({ product, packages: pkgs }), 'evidence');
    for (const s of [STEP.U, STEP.S, STEP.P]) {
      await rtClient(s.who).setCustomFields(t, { RepoAction: s.action });
      expect(await waitForStatus(e, t, [s.want, 'Failed', 'Incomplete'])).toBe(s.want);
    }
    const comment = await waitForComment(e, t, /is in Production/);
    expect(comment).toContain(`${e.svc.url}/releases/${t}/evidence`);

    const res = await fetch(`${e.svc.url}/releases/${t}/evidence`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const st = JSON.parse(text);
    expect(st._type).toBe(STATEMENT_TYPE);
    expect(st.predicateType).toBe(PREDICATE_TYPE);
    expect(st.subject).toEqual(
      [...pkgs].sort((a, b) => (a.filename < b.filename ? -1 : 1)).map((p) => ({ name: p.filename, digest: { sha256: p.sha256 } })),
    );
    expect(st.predicate.transitions.map((x: { actor: string; to: string }) => `${x.actor}:${x.to}`)).toEqual([
      'provider1:Unverified',
      'tug1:StageRollOut',
      'rollout1:Production',
    ]);
    expect(st.predicate.release).toMatchObject({ ticket: t, product, revision: 1 });
    const repoUrl = `${e.svc.url}/repos/production/${product}/`;
    const repomd = Buffer.from(await (await fetch(`${repoUrl}repodata/repomd.xml`)).arrayBuffer());
    expect(st.predicate.repositories[0]).toMatchObject({
      url: repoUrl,
      index: 'repodata/repomd.xml',
      indexSha256: createHash('sha256').update(repomd).digest('hex'),
    });

    // attached to the ticket, the receipt and its signature
    const attached = (await e.rt.listAttachments(t)).map((a) => a.filename).filter(Boolean);
    expect(attached).toEqual(expect.arrayContaining([`${t}-v1.intoto.json`, `${t}-v1.intoto.json.asc`]));

    // offline: the key a site saved, the receipt and its signature, the live repository
    const dir = await mkdtemp(join(tmpdir(), 'rd-evidence-'));
    const key = join(dir, 'releasedesk.asc');
    await writeFile(key, await (await fetch(`${e.svc.url}/keys/releasedesk.asc`)).text());
    const file = join(dir, 'receipt.intoto.json');
    await writeFile(file, text);
    await writeFile(`${file}.asc`, await (await fetch(`${e.svc.url}/releases/${t}/evidence.asc`)).text());
    const good = await cli('verify-evidence', file, '--key', key, '--repo', repoUrl);
    expect(good.text).toContain('signature: good');
    expect(good.text.match(/\bmatch\b/g)).toHaveLength(2);
    expect(good.code).toBe(0);

    // tampered: one digest changed after signing
    const tampered = join(dir, 'tampered.intoto.json');
    await writeFile(tampered, text.replace(pkgs[0]!.sha256!, 'f'.repeat(64)));
    await writeFile(`${tampered}.asc`, await readFile(`${file}.asc`));
    const bad = await cli('verify-evidence', tampered, '--key', key);
    expect(bad.code).toBe(6);
    expect(bad.text).toContain('BADSIG');

    // a repository where one package has other bytes under the same name
    const swapped = join(dir, 'swapped');
    const other = 'e'.repeat(64);
    await mkdir(swapped);
    await writeFile(
      join(swapped, 'Packages'),
      pkgs
        .map((p, i) => {
          const sha = i === 0 ? other : p.sha256!;
          return `Package: ${p.pkgname}\nFilename: pool/${sha.slice(0, 2)}/${sha}/${p.filename}\nSize: 1\nSHA256: ${sha}\n`;
        })
        .join('\n'),
    );
    const swap = await cli('verify-evidence', file, '--key', key, '--repo', swapped);
    expect(swap.code).toBe(6);
    expect(swap.text).toContain(`DIFFERENT: sha256 ${other}`);
  }, 240_000);
});
