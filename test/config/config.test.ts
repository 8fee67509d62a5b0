import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/index.ts';

const ok = { RT_TOKEN: '1-22-0123456789abcdef0123456789abcdef', WEBHOOK_SECRET: 'a-real-secret-of-some-length' };

describe('loadConfig', () => {
  it('has a default for everything but the two secrets', () => {
    const c = loadConfig(ok);
    expect(c).toMatchObject({ PORT: 8080, RT_QUEUE: 'Releases', PUBLIC_URL: 'http://127.0.0.1:8080', ALLOWED_DOWNLOAD_HOSTS: [] });
  });
  it('reports every bad value at once, one line each, naming the variable', () => {
    let err: ConfigError | undefined;
    try {
      loadConfig({
        PORT: 'eighty',
        RT_URL: 'ftp://rt',
        WEBHOOK_SECRET: 'changeme',
        STORAGE_DIR: 'relative/dir',
        DATABASE_URL: 'mysql://x',
      });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const names = err!.problems.map((p) => p.split(':')[0]);
    expect(new Set(names)).toEqual(new Set(['PORT', 'RT_URL', 'RT_TOKEN', 'WEBHOOK_SECRET', 'STORAGE_DIR', 'DATABASE_URL']));
    expect(err!.message).toMatch(/WEBHOOK_SECRET: .*placeholder/);
    expect(err!.message).toMatch(/RT_TOKEN: required/);
  });
  it('refuses short secrets and trims URLs and host lists', () => {
    expect(() => loadConfig({ ...ok, WEBHOOK_SECRET: 'short' })).toThrow(/at least 16/);
    const c = loadConfig({ ...ok, PUBLIC_URL: 'https://repo.example.org/', ALLOWED_DOWNLOAD_HOSTS: ' 127.0.0.1, Mirror.Local ,' });
    expect(c.PUBLIC_URL).toBe('https://repo.example.org');
    expect(c.ALLOWED_DOWNLOAD_HOSTS).toEqual(['127.0.0.1', 'mirror.local']);
  });
  it('treats an empty variable as unset', () => {
    expect(loadConfig({ ...ok, PORT: '' }).PORT).toBe(8080);
  });
  it('NOTICE_GROUPS: follows the role groups by default, takes STATUS=GROUP pairs or "none", names a bad pair', () => {
    expect(loadConfig(ok).NOTICE_GROUPS).toEqual({ Unverified: 'TechnologyUnit', StageRollOut: 'RolloutCoordinators' });
    expect(loadConfig({ ...ok, TECHNOLOGY_UNIT_GROUP: 'Reviewers' }).NOTICE_GROUPS.Unverified).toBe('Reviewers');
    expect(loadConfig({ ...ok, NOTICE_GROUPS: 'Incomplete=Ops Team, Production=Rollout' }).NOTICE_GROUPS).toEqual({
      Incomplete: 'Ops Team',
      Production: 'Rollout',
    });
    expect(loadConfig({ ...ok, NOTICE_GROUPS: 'none' }).NOTICE_GROUPS).toEqual({});
    expect(() => loadConfig({ ...ok, NOTICE_GROUPS: 'Unverified=A,Staging=B' })).toThrow(/NOTICE_GROUPS: "Staging=B" is not STATUS=GROUP/);
  });
  it('SIGNING_KEY_FILES and SIGNING_PASSPHRASE_FILES: absolute paths paired by position, an empty passphrase entry for none', () => {
    expect(loadConfig(ok)).toMatchObject({ SIGNING_KEY_FILES: [], SIGNING_PASSPHRASE_FILES: [] });
    const c = loadConfig({ ...ok, SIGNING_KEY_FILES: '/k/old.asc, /k/new.asc', SIGNING_PASSPHRASE_FILES: ', /k/new.pass' });
    expect(c).toMatchObject({ SIGNING_KEY_FILES: ['/k/old.asc', '/k/new.asc'], SIGNING_PASSPHRASE_FILES: ['', '/k/new.pass'] });
    expect(() => loadConfig({ ...ok, SIGNING_KEY_FILES: 'old.asc,' })).toThrow(
      /SIGNING_KEY_FILES: "old.asc" must be an absolute path\n.*SIGNING_KEY_FILES: entry 2 is empty/,
    );
    expect(() => loadConfig({ ...ok, SIGNING_PASSPHRASE_FILES: '/k/p' })).toThrow(
      /SIGNING_PASSPHRASE_FILES: set without SIGNING_KEY_FILES/,
    );
    expect(() => loadConfig({ ...ok, SIGNING_KEY_FILES: '/k/a.asc', SIGNING_PASSPHRASE_FILES: '/k/p,/k/q' })).toThrow(
      /SIGNING_PASSPHRASE_FILES: 2 entries for 1 key\(s\)/,
    );
  });
  it('PEERS, API_TOKENS, DESK_NAME, TRUSTED_BUNDLE_KEYS: parsed once, a bad entry named without its secret', () => {
    const c = loadConfig({
      ...ok,
      DESK_NAME: 'site-de',
      PEERS: 'central=https://desk.example/|central-secret-0123456789',
      API_TOKENS: 'operator-token-0123456789',
      TRUSTED_BUNDLE_KEYS: '/k/central.asc',
    });
    expect(c).toMatchObject({
      DESK_NAME: 'site-de',
      PEERS: [{ name: 'central', url: 'https://desk.example', secret: 'central-secret-0123456789' }],
      API_TOKENS: ['operator-token-0123456789'],
      TRUSTED_BUNDLE_KEYS: ['/k/central.asc'],
    });
    const err = (() => {
      try {
        loadConfig({ ...ok, DESK_NAME: 'Site DE', PEERS: 'central=ftp://x|short, bad', API_TOKENS: 'short', TRUSTED_BUNDLE_KEYS: 'k.asc' });
      } catch (e) {
        return e as { problems: string[] };
      }
    })()!;
    const text = err.problems.join('\n');
    expect(text).toMatch(/DESK_NAME: DESK_NAME must be/);
    expect(text).toMatch(/PEERS: "central=ftp:\/\/x\|\*\*\*" is not NAME=URL\|SECRET/);
    expect(text).toMatch(/PEERS: "bad" is not NAME=URL\|SECRET/);
    expect(text).toMatch(/API_TOKENS: each token must be at least 16 characters/);
    expect(text).toMatch(/TRUSTED_BUNDLE_KEYS: "k.asc" must be an absolute path/);
    expect(text).not.toContain('short,');
  });
});
