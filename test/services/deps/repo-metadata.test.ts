import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMetadataFile } from '../../../services/deps/base-repos.ts';
import { primaryLocation, readPackages, readPrimary, type ProvideIndex } from '../../../services/deps/repo-metadata.ts';
import { resolve } from '../../../services/deps/resolve.ts';

async function* chunked(text: string, size = 7): AsyncIterable<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

const PRIMARY = `<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="2">
<package type="rpm">
  <name>bash</name><arch>x86_64</arch><version epoch="0" ver="5.1.8" rel="6.el9"/>
  <description>The GNU Bourne Again shell &amp; more</description>
  <format>
    <rpm:provides>
      <rpm:entry name="bash" flags="EQ" epoch="0" ver="5.1.8" rel="6.el9"/>
      <rpm:entry name="bash(x86-64)" flags="EQ" epoch="0" ver="5.1.8" rel="6.el9"/>
      <rpm:entry name="/bin/bash"/>
      <rpm:entry name="config(bash)" flags="GE" ver="5"/>
    </rpm:provides>
    <rpm:requires><rpm:entry name="libc.so.6()(64bit)"/></rpm:requires>
    <file>/usr/bin/bash</file>
    <file type="dir">/etc/skel</file>
  </format>
</package>
<package type="rpm">
  <name>perl-Carp</name><arch>noarch</arch><version epoch="1" ver="1.50" rel="460.el9"/>
  <format><rpm:provides><rpm:entry name="perl(Carp)" flags="EQ" epoch="1" ver="1.50" rel="460.el9"/></rpm:provides></format>
</package>
</metadata>`;

describe('primary.xml', () => {
  it('gives every provide as rpm prints it, each package itself, and the files listed', async () => {
    const ix: ProvideIndex = new Map();
    expect(await readPrimary(chunked(PRIMARY), ix)).toBe(2);
    expect(Object.fromEntries(ix)).toEqual({
      bash: ['bash = 5.1.8-6.el9'],
      'bash(x86-64)': ['bash(x86-64) = 5.1.8-6.el9'],
      '/bin/bash': ['/bin/bash'],
      'config(bash)': ['config(bash) >= 5'],
      '/usr/bin/bash': ['/usr/bin/bash'],
      '/etc/skel': ['/etc/skel'],
      'perl(Carp)': ['perl(Carp) = 1:1.50-460.el9'],
      'perl-Carp': ['perl-Carp = 1:1.50-460.el9'],
    });
  });
  it('is what resolve() reads: versions compared, files met when listed, unlisted files stay unchecked', async () => {
    const ix: ProvideIndex = new Map();
    await readPrimary(chunked(PRIMARY), ix);
    const r = resolve(
      [{ package: 'a.rpm', requires: ['bash >= 5.1', 'perl(Carp) >= 1:1.0', 'bash > 6', '/usr/bin/bash', '/usr/bin/zsh'] }],
      [...ix.values()].flat(),
      'rpm',
    );
    expect(r.unmet).toEqual([{ package: 'a.rpm', requirement: 'bash > 6' }]);
    expect(r.unchecked).toEqual([{ package: 'a.rpm', requirement: '/usr/bin/zsh' }]);
  });
  it('refuses what is not XML', async () => {
    await expect(readPrimary(chunked('<metadata><package></metadata>'), new Map())).rejects.toThrow(/^primary\.xml.*unexpected close tag/);
  });
  it('repomd.xml: where primary is, and its sha256', () => {
    const repomd = `<repomd xmlns="http://linux.duke.edu/metadata/repo"><data type="filelists"><location href="repodata/f.xml.gz"/></data>
      <data type="primary"><checksum type="sha256"> ab12 </checksum><open-checksum type="sha256">ff</open-checksum><location href="repodata/p.xml.gz"/></data></repomd>`;
    expect(primaryLocation(repomd)).toEqual({ href: 'repodata/p.xml.gz', sha256: 'ab12' });
    expect(primaryLocation('<repomd><data type="other"><location href="o.xml"/></data></repomd>')).toBeUndefined();
  });
});

describe('Packages', () => {
  it('gives Package (= Version) and every Provides entry, folded lines and CRLF included', async () => {
    const text =
      'Package: exim4-daemon-light\nVersion: 4.96-15+deb12u2\nProvides: mail-transport-agent,\n exim4-localscanapi-6.0\r\nDepends: libc6 (>= 2.34)\n\n' +
      "Package: perl\nVersion: 5.36.0-7\nProvides: libperl-io-compress-perl (= 2.106), perl-modules:any\nDescription: Larry Wall's\n Practical Extraction\n\n\n" +
      'Package: no-newline-at-end\nVersion: 1:2.0';
    const ix: ProvideIndex = new Map();
    expect(await readPackages(chunked(text, 11), ix)).toBe(3);
    expect(Object.fromEntries(ix)).toEqual({
      'exim4-daemon-light': ['exim4-daemon-light (= 4.96-15+deb12u2)'],
      'mail-transport-agent': ['mail-transport-agent'],
      'exim4-localscanapi-6.0': ['exim4-localscanapi-6.0'],
      perl: ['perl (= 5.36.0-7)'],
      'libperl-io-compress-perl': ['libperl-io-compress-perl (= 2.106)'],
      'perl-modules': ['perl-modules:any'],
      'no-newline-at-end': ['no-newline-at-end (= 1:2.0)'],
    });
  });
});

/** A gc() of our own: the numbers below are worth printing only if garbage is not counted. */
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

async function writeGz(path: string, parts: Iterable<string>): Promise<number> {
  let plain = 0;
  await pipeline(
    Readable.from(
      (function* () {
        for (const p of parts) {
          plain += Buffer.byteLength(p);
          yield p;
        }
      })(),
    ),
    createGzip({ level: 1 }),
    createWriteStream(path),
  );
  return plain;
}

/** Parses `path` and reports time and heap: before, highest while parsing, and kept (the index) after a gc. */
async function measure(label: string, path: string, plainBytes: number, kind: 'yum' | 'apt') {
  gc();
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 2);
  const ix: ProvideIndex = new Map();
  const t0 = performance.now();
  const packages = await readMetadataFile(path, kind, 2 ** 32, ix);
  const ms = performance.now() - t0;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().heapUsed);
  gc();
  const kept = process.memoryUsage().heapUsed - before;
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  console.log(
    `${label}: ${packages} packages, ${mib(plainBytes)} text (${mib((await stat(path)).size)} gz), ${ix.size} names; ` +
      `${ms.toFixed(0)} ms (${(plainBytes / 2 ** 20 / (ms / 1000)).toFixed(0)} MiB/s); heap +${mib(peak - before)} at most while parsing, +${mib(kept)} kept (the index)`,
  );
  return { packages, ix, kept };
}

describe('a distribution-sized file streams in modest memory (figures printed, not asserted as timings)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rd-meta-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('Packages with 50,000 stanzas', async () => {
    const desc = ' A synthetic package, described over a few lines as real ones are.\n .\n It exists to be parsed.\n';
    const stanza = (i: number) =>
      `Package: synth-${i}\nSource: synth-src-${i >> 3}\nVersion: 1:${i % 90}.${i % 7}-${i % 3}+deb12u1\nInstalled-Size: ${i % 5000}\n` +
      `Maintainer: Synthetic Maintainers <synth@example.invalid>\nArchitecture: amd64\n${i % 4 === 0 ? `Provides: virtual-${i % 500}, libsynth${i}-abi (= ${i})\n` : ''}` +
      `Depends: libc6 (>= 2.34), libssl3 (>= 3.0.0), synth-common (= \${binary:Version}), zlib1g (>= 1:1.1.4)\nDescription: synthetic package ${i}\n${desc}` +
      `Homepage: https://example.invalid/synth-${i}\nDescription-md5: ${'0123456789abcdef'.repeat(2)}\nSection: misc\nPriority: optional\n` +
      `Filename: pool/main/s/synth-src-${i >> 3}/synth-${i}_${i % 90}.${i % 7}-${i % 3}_amd64.deb\nSize: ${1000 + i}\nMD5sum: ${'a1'.repeat(16)}\nSHA256: ${'b2'.repeat(32)}\n\n`;
    const path = join(dir, 'Packages.gz');
    const plain = await writeGz(
      path,
      (function* () {
        for (let i = 0; i < 50_000; i++) yield stanza(i);
      })(),
    );
    const { packages, ix, kept } = await measure('Packages', path, plain, 'apt');
    expect(packages).toBe(50_000);
    expect(ix.get('virtual-4')).toEqual(['virtual-4']);
    expect(ix.get('synth-49999')).toEqual(['synth-49999 (= 1:49.5-1+deb12u1)']);
    // what stays is the index, not the text: a name cut from a chunk would keep the chunk (~800 bytes a name here)
    expect(kept / ix.size).toBeLessThan(300);
  });

  it('primary.xml with 20,000 packages', async () => {
    const pkg = (i: number) => {
      const n = `synth-${i}`;
      const evr = `epoch="${i % 9 === 0 ? 2 : 0}" ver="1.${i % 100}" rel="${i % 5}.el9"`;
      return (
        `<package type="rpm">\n  <name>${n}</name>\n  <arch>x86_64</arch>\n  <version ${evr}/>\n` +
        `  <checksum type="sha256" pkgid="YES">${'c3'.repeat(32)}</checksum>\n  <summary>Synthetic package ${i}</summary>\n` +
        `  <description>${'A synthetic package, described about as long as real ones are &amp; with an entity. '.repeat(2)}</description>\n` +
        `  <packager>Synthetic Build System &lt;build@example.invalid&gt;</packager>\n  <url>https://example.invalid/${n}</url>\n` +
        `  <time file="1700000000" build="1700000000"/>\n  <size package="${10_000 + i}" installed="${40_000 + i}" archive="${41_000 + i}"/>\n` +
        `  <location href="Packages/${n}-1.${i % 100}-${i % 5}.el9.x86_64.rpm"/>\n  <format>\n    <rpm:license>MIT</rpm:license>\n` +
        `    <rpm:vendor>Synthetic</rpm:vendor>\n    <rpm:group>Unspecified</rpm:group>\n    <rpm:buildhost>builder.example.invalid</rpm:buildhost>\n` +
        `    <rpm:sourcerpm>synth-src-${i >> 2}-1.0-1.el9.src.rpm</rpm:sourcerpm>\n    <rpm:header-range start="4504" end="${16_000 + i}"/>\n` +
        `    <rpm:provides>\n      <rpm:entry name="${n}" flags="EQ" ${evr}/>\n      <rpm:entry name="${n}(x86-64)" flags="EQ" ${evr}/>\n` +
        `      <rpm:entry name="libsynth${i}.so.1()(64bit)"/>\n      <rpm:entry name="config(${n})" flags="EQ" ${evr}/>\n    </rpm:provides>\n` +
        `    <rpm:requires>\n${[
          'libc.so.6()(64bit)',
          'libc.so.6(GLIBC_2.34)(64bit)',
          'libssl.so.3()(64bit)',
          'libz.so.1()(64bit)',
          '/bin/sh',
          'rtld(GNU_HASH)',
        ]
          .map((r) => `      <rpm:entry name="${r}"/>\n`)
          .join('')}    </rpm:requires>\n` +
        `    <file>/usr/bin/${n}</file>\n    <file>/etc/${n}.conf</file>\n  </format>\n</package>\n`
      );
    };
    const path = join(dir, 'primary.xml.gz');
    const plain = await writeGz(
      path,
      (function* () {
        yield '<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="20000">\n';
        for (let i = 0; i < 20_000; i++) yield pkg(i);
        yield '</metadata>\n';
      })(),
    );
    const { packages, ix, kept } = await measure('primary.xml', path, plain, 'yum');
    expect(packages).toBe(20_000);
    expect(ix.get('synth-18')).toEqual(['synth-18 = 2:1.18-3.el9']);
    expect(ix.get('/etc/synth-7.conf')).toEqual(['/etc/synth-7.conf']);
    expect(kept / ix.size).toBeLessThan(300);
  });

  it('refuses more decompressed text than the cap, and names xz it cannot read', async () => {
    const path = join(dir, 'big.gz');
    await writeGz(path, ['Package: a\nVersion: 1\n\n'.repeat(1000)]);
    await expect(readMetadataFile(path, 'apt', 1000, new Map())).rejects.toThrow(/larger than 1000 bytes once decompressed/);
    const xz = join(dir, 'Packages.xz');
    await writeFile(xz, Buffer.from('fd377a585a000004e6d6b446', 'hex'));
    await expect(readMetadataFile(xz, 'apt', 1000, new Map())).rejects.toThrow(/xz-compressed; releasedesk on Node v\d+.* reads gzip/);
  });
});
