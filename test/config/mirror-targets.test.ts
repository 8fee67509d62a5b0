import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { parseMirrorTargets } from '../../config/mirror-targets.ts';

const base = { RT_TOKEN: 'rt-token-0123456789abcdef', WEBHOOK_SECRET: 'webhook-secret-0123456789' };

describe('MIRROR_TARGETS', () => {
  it('reads S3, rsync and ssh targets with their options', () => {
    const [s3, rsync, ssh] = parseMirrorTargets(
      's3=s3+https://AK%3Auser:S3CR3T@s3.example.org:8443/bucket/umd/x;delete;public=https://cdn.example.org/umd/;region=eu-1, ' +
        'site=rsync://mirror.example.org/umd, far=ssh://sync@far.example.org:2222/srv/umd',
    );
    expect(s3).toEqual({
      name: 's3',
      kind: 's3',
      deleteOrphans: true,
      publicUrl: 'https://cdn.example.org/umd',
      endpoint: 'https://s3.example.org:8443',
      region: 'eu-1',
      bucket: 'bucket',
      prefix: 'umd/x',
      accessKeyId: 'AK:user',
      secretAccessKey: 'S3CR3T',
    });
    expect(rsync).toEqual({
      name: 'site',
      kind: 'rsync',
      url: 'rsync://mirror.example.org/umd',
      deleteOrphans: false,
      publicUrl: undefined,
    });
    expect(ssh?.kind).toBe('rsync');
  });

  it('refuses bad entries at start, one line each, without showing a secret', () => {
    let message = '';
    try {
      loadConfig({
        ...base,
        MIRROR_TARGETS:
          'a=rsync://h/m, g=s3+http://127.0.0.1:8080/bucket, b=ftp://x/y, c=s3+http://K:TOPSECRET@127.0.0.1/B, d=rsync://h/m;bogus, a=rsync://h/n, E=rsync://h/m, f=rsync://h/',
      });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('needs ACCESS_KEY:SECRET@');
    expect(message).toContain('must start with s3+http://');
    expect(message).toContain('must be a bucket name');
    expect(message).toContain('unknown or malformed option "bogus"');
    expect(message).toContain('target a is listed twice');
    expect(message).toContain('is not NAME=URL');
    expect(message).toContain('give the module after the host');
    expect(message).not.toContain('TOPSECRET');
  });

  it('is empty by default: no mirror', () => {
    expect(loadConfig(base).MIRROR_TARGETS).toEqual([]);
  });
});

describe('SLA_DEADLINES', () => {
  it('reads STATUS=DURATION pairs, defaults to the verification month and 14 days, and refuses a clock for Incomplete', () => {
    expect(loadConfig(base).SLA_DEADLINES).toEqual({ Unverified: 30 * 86_400_000, StageRollOut: 14 * 86_400_000 });
    expect(loadConfig({ ...base, SLA_DEADLINES: 'Unverified=2d, StageRollOut=36h' }).SLA_DEADLINES).toEqual({
      Unverified: 2 * 86_400_000,
      StageRollOut: 36 * 3_600_000,
    });
    expect(loadConfig({ ...base, SLA_DEADLINES: 'none' }).SLA_DEADLINES).toEqual({});
    expect(() => loadConfig({ ...base, SLA_DEADLINES: 'Incomplete=3d, Unverified=soon' })).toThrow(
      /Incomplete takes no deadline[\s\S]*"Unverified=soon" is not STATUS=DURATION/,
    );
  });
});
