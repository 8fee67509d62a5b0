import { ALL_KEYS_FILE } from '../signing/public-keys.ts';
import type { RepoRef } from './repo-ref.ts';

/**
 * Where clients find a repository. STORAGE_DIR/repos is served at PUBLIC_URL/repos, so a
 * repository's URL mirrors its path: PUBLIC_URL/repos/<stage>/<product>/ (trailing slash: dnf and
 * apt append file names to it).
 */
export function repoUrl(publicUrl: string, repo: RepoRef): string {
  return `${publicUrl.replace(/\/+$/, '')}/${repoUrlPath(repo)}`;
}

/** The URL path below PUBLIC_URL, e.g. `repos/production/foo/`. */
export function repoUrlPath(repo: RepoRef): string {
  return `repos/${repo.stage}/${encodeURIComponent(repo.product)}/`;
}

/** The file users install: `<product>.repo` for dnf/yum, `<product>.list` for apt. */
export function clientFileName(repo: RepoRef): string {
  return `${repo.product}.${repo.kind === 'yum' ? 'repo' : 'list'}`;
}

export function clientFileUrl(publicUrl: string, repo: RepoRef): string {
  return `${repoUrl(publicUrl, repo)}${encodeURIComponent(clientFileName(repo))}`;
}

/** Where sites fetch the public keys of every configured signing key, in one file (services/signing). */
export function signingKeyUrl(publicUrl: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/keys/${ALL_KEYS_FILE}`;
}

/** Where the APT client file expects the key on a site (apt's documented place for local keyrings). */
export const APT_KEYRING = '/etc/apt/keyrings/releasedesk.asc';

/**
 * The client file's text. It trusts the repository only through its signature, by the key served at
 * PUBLIC_URL/keys/. The dnf repo id carries the stage, so a host can enable stage-rollout and production
 * side by side.
 */
export function clientFileText(publicUrl: string, repo: RepoRef): string {
  const url = repoUrl(publicUrl, repo);
  const key = signingKeyUrl(publicUrl);
  if (repo.kind === 'apt') {
    return [
      '# Signed repository: fetch its key once, as root, before apt update:',
      `#   install -d -m 0755 /etc/apt/keyrings && curl -fsSLo ${APT_KEYRING} ${key}`,
      `deb [signed-by=${APT_KEYRING}] ${url} ./`,
      '',
    ].join('\n');
  }
  const id = `${repo.product}-${repo.stage}`.replace(/[^A-Za-z0-9_.:-]/g, '_'); // dnf's repo id alphabet
  return [
    `[${id}]`,
    `name=${repo.product} (${repo.stage})`,
    `baseurl=${url}`,
    'enabled=1',
    '# releasedesk signs the index (repodata/repomd.xml.asc) with the key at gpgkey; dnf checks it.',
    'repo_gpgcheck=1',
    "# The packages carry their provider's signatures, not releasedesk's: the signed index vouches for each",
    "# package's checksum. Turn gpgcheck on only with the provider's key added to gpgkey.",
    'gpgcheck=0',
    `gpgkey=${key}`,
    '',
  ].join('\n');
}
