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

/**
 * The client file's text. No signing yet: gpgcheck=0 / trusted=yes until repository keys exist.
 * The dnf repo id carries the stage, so a host can enable stage-rollout and production side by side.
 */
export function clientFileText(publicUrl: string, repo: RepoRef): string {
  const url = repoUrl(publicUrl, repo);
  if (repo.kind === 'apt') return `deb [trusted=yes] ${url} ./\n`;
  const id = `${repo.product}-${repo.stage}`.replace(/[^A-Za-z0-9_.:-]/g, '_'); // dnf's repo id alphabet
  return [`[${id}]`, `name=${repo.product} (${repo.stage})`, `baseurl=${url}`, 'enabled=1', 'gpgcheck=0', ''].join('\n');
}
