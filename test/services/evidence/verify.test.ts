import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evidenceStatement, statementBytes } from '../../../services/evidence/statement.ts';
import { verifyEvidence } from '../../../services/evidence/verify.ts';
import { startSigner, type Signer } from '../../../services/signing/signer.ts';
import { EVIDENCE_FACTS } from '../../support/evidence.ts';

// What `releasedesk verify-evidence` refuses, offline, with the real gpg: each refusal names the file and why.
let root: string;
let signer: Signer;
let key: string;

const sha = (c: string) => c.repeat(64);
const statement = () =>
  evidenceStatement({
    ...EVIDENCE_FACTS,
    packages: [{ filename: 'tool-1.0-1.noarch.rpm', sha256: sha('a'), size: 1 }],
    signingKeys: [...signer.fingerprints],
  });

/** Writes `bytes` and signs it with the desk's key: a receipt as the desk serves it, whatever it holds. */
async function signed(name: string, bytes: Buffer | string): Promise<{ file: string; sig: string }> {
  const file = join(root, name);
  await writeFile(file, bytes);
  return { file, sig: await signer.signFile(file) };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-verify-evidence-'));
  signer = await startSigner({ storageDir: join(root, 'storage'), keys: [] });
  key = join(root, 'storage', 'keys', 'releasedesk.asc');
}, 120_000);
afterAll(async () => {
  await signer?.stop();
  await rm(root, { recursive: true, force: true });
});

describe('verifyEvidence', () => {
  it('a signed file that is not JSON: RD_EVIDENCE_INVALID naming the file', async () => {
    const r = await signed('not-json.json', 'hello\n');
    await expect(verifyEvidence(r.file, r.sig, [key])).rejects.toMatchObject({
      code: 'RD_EVIDENCE_INVALID',
      message: expect.stringMatching(/not-json\.json is not JSON/),
    });
  });

  it('signed JSON that is not an evidence statement: RD_EVIDENCE_INVALID naming its type', async () => {
    const r = await signed('other.json', JSON.stringify({ _type: 'https://example/other', subject: [] }));
    await expect(verifyEvidence(r.file, r.sig, [key])).rejects.toMatchObject({
      code: 'RD_EVIDENCE_INVALID',
      message: expect.stringContaining('is not a releasedesk evidence statement (_type https://example/other'),
    });
  });

  it('a repository that holds no index: RD_EVIDENCE_INVALID naming it; a signed receipt alone verifies', async () => {
    const r = await signed('receipt.json', statementBytes(statement()));
    const empty = join(root, 'empty-repo');
    await mkdir(empty);
    await expect(verifyEvidence(r.file, r.sig, [key], empty)).rejects.toMatchObject({
      code: 'RD_EVIDENCE_INVALID',
      message: expect.stringContaining('neither repodata/repomd.xml nor Packages(.gz) is there'),
    });
    const ok = await verifyEvidence(r.file, r.sig, [key]);
    expect(ok).toMatchObject({ ok: true, signedBy: signer.fingerprints[0], subjects: [{ repository: 'not checked' }] });
  });

  it('a receipt changed after signing is refused as tampered', async () => {
    const r = await signed('changed.json', statementBytes(statement()));
    await writeFile(r.file, statementBytes({ ...statement(), subject: [{ name: 'evil.rpm', digest: { sha256: sha('e') } }] }));
    await expect(verifyEvidence(r.file, r.sig, [key])).rejects.toMatchObject({ code: 'RD_BUNDLE_TAMPERED' });
  });
});
