import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { RdError } from '../errors.ts';
import { packagesNamedBy } from '../storage/index-files.ts';
import { loadTrustedKeys } from '../signing/trust.ts';
import { PREDICATE_TYPE, STATEMENT_TYPE, type Statement } from './statement.ts';

export interface SubjectCheck {
  name: string;
  sha256: string;
  /** in the repository with this digest; missing; or there with other bytes */
  repository: 'match' | 'missing' | 'different' | 'not checked';
  found?: string;
}

export interface EvidenceCheck {
  signedBy: string;
  statement: Statement;
  subjects: SubjectCheck[];
  ok: boolean;
}

/**
 * Offline: the receipt's signature by one of `keyFiles` (a desk's PUBLIC_URL/keys/releasedesk.asc, saved),
 * then each subject against a repository's live index, when given (a YUM repository or an APT directory
 * holding Packages(.gz), as a URL or a directory). Throws RD_EVIDENCE_INVALID for a receipt that is not one.
 */
export async function verifyEvidence(file: string, signature: string, keyFiles: string[], repo?: string): Promise<EvidenceCheck> {
  const home = await mkdtemp(join(tmpdir(), 'rd-verify-'));
  let signedBy: string;
  try {
    const keys = await loadTrustedKeys(home, keyFiles, '--key');
    signedBy = await keys.verify(file, signature, file);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
  let statement: Statement;
  try {
    statement = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new RdError('RD_EVIDENCE_INVALID', `${file} is not JSON: ${(e as Error).message}`);
  }
  if (statement._type !== STATEMENT_TYPE || statement.predicateType !== PREDICATE_TYPE || !Array.isArray(statement.subject))
    throw new RdError(
      'RD_EVIDENCE_INVALID',
      `${file} is not a releasedesk evidence statement (_type ${statement._type}, predicateType ${statement.predicateType})`,
    );
  const held = repo ? await repositoryFiles(repo) : undefined;
  const subjects = statement.subject.map((s): SubjectCheck => {
    const base = { name: s.name, sha256: s.digest.sha256 };
    if (!held) return { ...base, repository: 'not checked' };
    const found = held.get(s.name);
    if (!found) return { ...base, repository: 'missing' };
    return found === s.digest.sha256 ? { ...base, repository: 'match' } : { ...base, repository: 'different', found };
  });
  return { signedBy, statement, subjects, ok: subjects.every((s) => s.repository === 'match' || s.repository === 'not checked') };
}

/** filename -> sha256 of every package the repository's index names. */
async function repositoryFiles(repo: string): Promise<Map<string, string>> {
  const base = repo.endsWith('/') ? repo : `${repo}/`;
  const get = async (path: string): Promise<Buffer | null> => {
    if (!/^https?:\/\//.test(base)) return readFile(join(base, path)).catch(() => null);
    const res = await fetch(new URL(path, base));
    return res.ok ? Buffer.from(await res.arrayBuffer()) : null;
  };
  const out = new Map<string, string>();
  const repomd = await get('repodata/repomd.xml');
  const named = [];
  if (repomd) {
    const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd.toString('utf8'))?.[1];
    const primary = href ? await get(href) : null;
    if (!primary) throw new RdError('RD_EVIDENCE_INVALID', `${base}: repomd.xml names no readable primary`);
    named.push(...(await packagesNamedBy(href!, primary)));
  } else {
    const gz = await get('Packages.gz');
    const plain = gz ? gunzipSync(gz) : await get('Packages');
    if (!plain) throw new RdError('RD_EVIDENCE_INVALID', `${base}: neither repodata/repomd.xml nor Packages(.gz) is there`);
    named.push(...(await packagesNamedBy('Packages', plain)));
  }
  for (const n of named) out.set(n.href.slice(n.href.lastIndexOf('/') + 1), n.sha256);
  return out;
}
