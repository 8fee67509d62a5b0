/** Builds release.xml v0.2 documents for tests, in the shape EGI's release tool writes them. */
export interface XmlPackage {
  filename: string;
  pkgname: string;
  version: string;
  release: string;
  arch: string;
  url?: string;
  sha256?: string;
}

export interface XmlRelease {
  product: string;
  version?: [string, string, string];
  platform?: string;
  arch?: string;
  synchURL?: string;
  synchSha256?: string;
  packages: XmlPackage[];
  protocol?: 'yum' | 'apt';
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

export function releaseXml(r: XmlRelease): string {
  const [maj, min, rev] = r.version ?? ['1', '0', '0'];
  const pkgs = r.packages.map((p) => {
    const attrs = Object.entries({
      arch: p.arch,
      filename: p.filename,
      pkgname: p.pkgname,
      pkgtype: 'binary',
      release: p.release,
      url: p.url,
      version: p.version,
      sha256: p.sha256,
    })
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}="${esc(String(v))}"`)
      .join(' ');
    return `      <UMDmeta:package ${attrs}/>`;
  });
  return `<?xml version="1.0" ?>
<release:release xmlns:UMDmeta="http://repo.egi.eu/0.2/UMDmeta" xmlns:release="http://repo.egi.eu/0.2/release" xmlns:repofile="http://repo.egi.eu/0.2/repofile" xmlns:repository="http://repo.egi.eu/0.2/repository">
  <release:productName>${esc(r.product)}</release:productName>
  <release:productShortName>${esc(r.product)}</release:productShortName>
  <release:technologyProvider>TESTTP</release:technologyProvider>
  <release:technologyProviderShortName>TESTTP</release:technologyProviderShortName>
  <release:contact>provider1@localhost</release:contact>
  <release:technicalContact>provider1@localhost</release:technicalContact>
  <release:description>Test release</release:description>
  <release:documentationLink>https://example.org/docs</release:documentationLink>
  <release:ISODate>20261115</release:ISODate>
  <release:incremental>false</release:incremental>
  <release:emergency>false</release:emergency>
  <release:majorVersion>${maj}</release:majorVersion>
  <release:minorVersion>${min}</release:minorVersion>
  <release:revisionVersion>${rev}</release:revisionVersion>
  <release:releaseNotes>notes</release:releaseNotes>
  <release:changeLog>- first</release:changeLog>
  <release:synchProtocol>${r.protocol ?? 'yum'}</release:synchProtocol>
  <release:synchURL>${esc(r.synchURL ?? 'n/a')}</release:synchURL>
${r.synchSha256 ? `  <release:synchSha256>${r.synchSha256}</release:synchSha256>\n` : ''}  <UMDmeta:UMDmeta>
    <UMDmeta:targetPlatform>${r.platform ?? 'el9'}</UMDmeta:targetPlatform>
    <UMDmeta:targetArch>${r.arch ?? 'noarch'}</UMDmeta:targetArch>
    <UMDmeta:capability>test</UMDmeta:capability>
    <UMDmeta:packages>
${pkgs.join('\n')}
    </UMDmeta:packages>
  </UMDmeta:UMDmeta>
</release:release>
`;
}
