import { describe, expect, it } from 'vitest';
import { parseCapability, resolve } from '../../services/deps/resolve.ts';
import { evrCmp, parseEvr, rpmVerCmp } from '../../services/deps/versions.ts';

const deb = (a: string, b: string) => evrCmp(parseEvr(a, 'deb'), parseEvr(b, 'deb'), 'deb');
const rpm = (a: string, b: string) => evrCmp(parseEvr(a, 'rpm'), parseEvr(b, 'rpm'), 'rpm');

describe('version order as rpm and dpkg have it', () => {
  it.each([
    ['1.0', '1.0', 0],
    ['1.0', '1.1', -1],
    ['2.10', '2.9', 1],
    ['1.0a', '1.0', 1],
    ['1.0~rc1', '1.0', -1],
    ['1.0^git1', '1.0', 1],
    ['1.0^git1', '1.0.1', -1],
    ['1.01', '1.1', 0],
    ['1.a', '1.1', -1],
    ['5.5p1', '5.5p10', -1],
    ['fc4', 'fc.4', 0],
  ])('rpmvercmp(%s, %s) = %i', (a, b, want) => expect(rpmVerCmp(a, b)).toBe(want));
  it.each([
    ['1.0-1', '1.0-2', -1],
    ['1:0.9', '2.0', 1],
    ['1.0~rc1-1', '1.0-1', -1],
    ['1.0', '1.0-1', -1],
    ['2.10-1', '2.9-1', 1],
    ['1.0+b1', '1.0', 1],
    ['1.0-1', '1.0-1', 0],
    ['0~', '0', -1],
    ['1.0a', '1.0+', -1],
  ])('dpkg(%s, %s) = %i', (a, b, want) => expect(Math.sign(deb(a, b))).toBe(want));
  it('rpm ignores a release missing on one side', () => {
    expect(rpm('1.0-5', '1.0')).toBe(0);
    expect(rpm('1:1.0-1', '2.0-1')).toBe(1);
  });
});

describe('resolve', () => {
  it('parses both formats', () => {
    expect(parseCapability('testpkg = 1.0.0-1', 'rpm')).toEqual({ name: 'testpkg', op: '=', evr: '1.0.0-1' });
    expect(parseCapability('libc.so.6()(64bit)', 'rpm')).toEqual({ name: 'libc.so.6()(64bit)' });
    expect(parseCapability('python3:any (>> 3.9)', 'deb')).toEqual({ name: 'python3', op: '>', evr: '3.9' });
  });
  it('finds what is missing, naming the package that needs it', () => {
    const r = resolve(
      [
        { package: 'a.rpm', requires: ['testpkg = 1.0.0-1', 'testpkg-missing >= 99', '/bin/sh'] },
        { package: 'b.rpm', requires: ['testpkg >= 2'] },
      ],
      ['testpkg = 1.0.0-1'],
      'rpm',
    );
    expect(r.unmet).toEqual([
      { package: 'a.rpm', requirement: 'testpkg-missing >= 99' },
      { package: 'b.rpm', requirement: 'testpkg >= 2' },
    ]);
    expect(r.unchecked).toEqual([{ package: 'a.rpm', requirement: '/bin/sh' }]);
  });
  it('takes any alternative of a Debian dependency, and unversioned provides', () => {
    const r = resolve(
      [{ package: 'x.deb', requires: ['mail-transport-agent | exim4 (>= 4.9)', 'perl (>= 5.30)', 'libfoo'] }],
      ['exim4 (= 4.96-15)', 'perl (= 5.36.0-7)', 'libfoo'],
      'deb',
    );
    expect(r.unmet).toEqual([]);
    expect(resolve([{ package: 'x.deb', requires: ['perl (>> 5.36.0-7)'] }], ['perl (= 5.36.0-7)'], 'deb').unmet).toHaveLength(1);
  });
});

describe('agrees with the real rpm and dpkg on many pairs', () => {
  const versions = [
    '1',
    '1.0',
    '1.0.0',
    '1.01',
    '1.0a',
    '1.0~rc1',
    '1.0~rc2',
    '1.0^git1',
    '1.0.1',
    '1.1',
    '2.9',
    '2.10',
    '10',
    '1.0+b1',
    '1.0+',
    '1a',
    '1.a',
    '5.5p1',
    '5.5p10',
    '0~',
    '0',
  ];
  const pairs = versions.flatMap((a) => versions.map((b) => [a, b] as const));
  it('rpm.labelCompare', async () => {
    const { execFileSync } = await import('node:child_process');
    const script = `import rpm, sys, json\nfor a, b in json.load(sys.stdin): print(rpm.labelCompare(('0', a, '1'), ('0', b, '1')))`;
    const out = execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(pairs), encoding: 'utf8' })
      .trim()
      .split('\n')
      .map(Number);
    expect(pairs.map(([a, b]) => rpmVerCmp(a, b))).toEqual(out);
  });
  it('dpkg --compare-versions', async () => {
    const { execFileSync } = await import('node:child_process');
    const script = pairs
      .map(
        ([a, b]) =>
          `if dpkg --compare-versions '${a}' lt '${b}'; then echo -1; elif dpkg --compare-versions '${a}' eq '${b}'; then echo 0; else echo 1; fi`,
      )
      .join('\n');
    const out = execFileSync('bash', ['-c', script], { encoding: 'utf8' }).trim().split('\n').map(Number);
    expect(pairs.map(([a, b]) => Math.sign(deb(a, b)))).toEqual(out);
  });
});
