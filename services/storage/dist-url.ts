import { aptArch, APT_COMPONENT, distClientRoot, type DistRef } from './dist-ref.ts';
import { APT_KEYRING, signingKeyUrl } from './repo-url.ts';

/**
 * Where sites find a distribution repository (see dist-ref.ts for the layout):
 *   YUM: PUBLIC_URL/repos/dist/yum/<platform>/<arch>/<stage>/         (baseurl)
 *   APT: PUBLIC_URL/repos/dist/apt/<platform>/ <stage> main            (archive, suite, component)
 */
export function distUrl(publicUrl: string, d: DistRef): string {
  return `${publicUrl.replace(/\/+$/, '')}/${distClientRoot(d)}`;
}

/** How people read it in a comment: the URL, and for APT the suite. */
export function distLabel(publicUrl: string, d: DistRef): string {
  return d.kind === 'yum' ? distUrl(publicUrl, d) : `${distUrl(publicUrl, d)} ${d.stage} ${APT_COMPONENT} (${aptArch(d.arch)})`;
}

export function distClientFileName(d: DistRef): string {
  return d.kind === 'yum' ? `releasedesk-${d.platform}-${d.arch}-${d.stage}.repo` : `releasedesk-${d.platform}-${d.stage}.list`;
}

/** Where the client file is served: inside the repository (YUM) or the suite (APT), so it moves with it. */
export function distClientFileUrl(publicUrl: string, d: DistRef): string {
  const dir = d.kind === 'yum' ? distUrl(publicUrl, d) : `${distUrl(publicUrl, d)}dists/${d.stage}/`;
  return `${dir}${distClientFileName(d)}`;
}

/** One file a site installs once to get every product of the stage; trusted only through the signature. */
export function distClientFileText(publicUrl: string, d: DistRef): string {
  const key = signingKeyUrl(publicUrl);
  if (d.kind === 'apt') {
    return [
      '# Signed repository: fetch its key once, as root, before apt update:',
      `#   install -d -m 0755 /etc/apt/keyrings && curl -fsSLo ${APT_KEYRING} ${key}`,
      `deb [signed-by=${APT_KEYRING}] ${distUrl(publicUrl, d)} ${d.stage} ${APT_COMPONENT}`,
      '',
    ].join('\n');
  }
  return [
    `[releasedesk-${d.platform}-${d.arch}-${d.stage}]`,
    `name=releasedesk ${d.stage} (${d.platform} ${d.arch})`,
    `baseurl=${distUrl(publicUrl, d)}`,
    'enabled=1',
    '# releasedesk signs the index (repodata/repomd.xml.asc) with the key at gpgkey; dnf checks it.',
    'repo_gpgcheck=1',
    "# The packages carry their providers' signatures, not releasedesk's: the signed index vouches for each",
    "# package's checksum. Turn gpgcheck on only with the providers' keys added to gpgkey.",
    'gpgcheck=0',
    `gpgkey=${key}`,
    '',
  ].join('\n');
}
