import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../config/index.ts';

// Lives beside the base repository tests; belongs with test/config/config.test.ts if that file is free to change.
const ok = { RT_TOKEN: '1-22-0123456789abcdef0123456789abcdef', WEBHOOK_SECRET: 'a-real-secret-of-some-length' };

const problems = (env: Record<string, string>): string[] => {
  try {
    loadConfig({ ...ok, ...env });
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
};

describe('BASE_REPOS and BASE_REPOS_REFRESH_MS', () => {
  it('default to none and one hour', () => {
    expect(loadConfig(ok)).toMatchObject({ BASE_REPOS: [], BASE_REPOS_REFRESH_MS: 3_600_000 });
    expect(loadConfig({ ...ok, BASE_REPOS: '' }).BASE_REPOS).toEqual([]);
  });

  it('read PLATFORM=KIND:URL entries; the URL ends with a slash, the platform is compared lower-case, repeats are dropped', () => {
    const c = loadConfig({
      ...ok,
      BASE_REPOS:
        ' el9=yum:http://mirror.example/el9/BaseOS/x86_64/os , Bookworm = apt:https://deb.debian.org/debian/dists/bookworm/main/binary-amd64/,' +
        '*=yum:http://u:p@mirror.example/epel/9/ , el9=yum:http://mirror.example/el9/BaseOS/x86_64/os/',
      BASE_REPOS_REFRESH_MS: '600000',
    });
    expect(c.BASE_REPOS).toEqual([
      { platform: 'el9', kind: 'yum', url: 'http://mirror.example/el9/BaseOS/x86_64/os/' },
      { platform: 'bookworm', kind: 'apt', url: 'https://deb.debian.org/debian/dists/bookworm/main/binary-amd64/' },
      { platform: '*', kind: 'yum', url: 'http://u:p@mirror.example/epel/9/' },
    ]);
    expect(c.BASE_REPOS_REFRESH_MS).toBe(600_000);
  });

  it('name every bad entry on its own line, with what is wrong, and never a password', () => {
    const p = problems({
      BASE_REPOS:
        'el9 yum:http://a/, el9=rpm:http://a/, el/9=yum:http://a/, el9=yum:ftp://a/, el9=apt:not a url, el9=yum:http://a/?x=1, el9=bad:http://user:hunter2@a/',
      BASE_REPOS_REFRESH_MS: '10',
    });
    expect(p).toEqual([
      'BASE_REPOS: "el9 yum:http://a/" is not PLATFORM=KIND:URL, e.g. el9=yum:http://mirror.example/el9/BaseOS/x86_64/os/',
      'BASE_REPOS: "el9=rpm:http://a/": KIND must be yum (for rpm releases) or apt (for deb releases), not "rpm"',
      'BASE_REPOS: "el/9=yum:http://a/": PLATFORM must be a platform name such as el9 or bookworm, or * for every platform',
      'BASE_REPOS: "el9=yum:ftp://a/": the URL must be http(s)',
      'BASE_REPOS: "el9=apt:not a url": the URL is not a valid URL',
      'BASE_REPOS: "el9=yum:http://a/?x=1": the URL must not have a query or fragment',
      'BASE_REPOS: "el9=bad:http://***@a/": KIND must be yum (for rpm releases) or apt (for deb releases), not "bad"',
      expect.stringMatching(/^BASE_REPOS_REFRESH_MS: /),
    ]);
    expect(p.join('\n')).not.toContain('hunter2');
  });
});
