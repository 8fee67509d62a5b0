import { describe, expect, it } from 'vitest';
import { parseBlobStore } from '../../config/blob-store.ts';
import { loadConfig } from '../../config/index.ts';

const base = { RT_TOKEN: 'rt-token-0123456789abcdef', WEBHOOK_SECRET: 'webhook-secret-0123456789' };

describe('BLOB_STORE', () => {
  it('is local by default: the blobs stay in STORAGE_DIR', () => {
    expect(loadConfig(base).BLOB_STORE).toEqual({ kind: 'local' });
    expect(parseBlobStore('local')).toEqual({ kind: 'local' });
  });

  it('reads an S3 bucket in the shape of a mirror target, and a directory', () => {
    expect(parseBlobStore('s3+https://AK%3Auser:S3CR3T@s3.example.org:8443/blobs/desk/a;region=eu-1')).toEqual({
      kind: 's3',
      sitesRead: false,
      endpoint: 'https://s3.example.org:8443',
      region: 'eu-1',
      bucket: 'blobs',
      prefix: 'desk/a',
      accessKeyId: 'AK:user',
      secretAccessKey: 'S3CR3T',
    });
    expect(parseBlobStore('s3+http://K:S@127.0.0.1:8080/blobs')).toMatchObject({ region: 'us-east-1', prefix: '' });
    // sites read the repositories straight from the bucket
    expect(parseBlobStore('s3+http://K:S@127.0.0.1:8080/blobs;public;region=eu-1')).toMatchObject({ sitesRead: true, region: 'eu-1' });
    expect(parseBlobStore('file:///srv/shared/blobs')).toEqual({ kind: 'dir', dir: '/srv/shared/blobs' });
  });

  it('refuses a bad value at start in one line naming the setting and the forms, without showing a secret', () => {
    for (const [value, says] of [
      ['s3', 'is not local, file:///ABSOLUTE/DIR, or s3+http(s)://'],
      ['https://s3.example.org/b', 'is not local, file:///ABSOLUTE/DIR, or s3+http(s)://'],
      ['s3+http://127.0.0.1:8080/bucket', 'needs ACCESS_KEY:SECRET@'],
      ['s3+http://K:TOPSECRET@127.0.0.1/B', 'must be a bucket name'],
      ['s3+http://K:TOPSECRET@127.0.0.1/bucket;delete', 'unknown or malformed option "delete" (region=…, public)'],
      ['file://host/srv/blobs', 'give an absolute directory'],
    ]) {
      let message = '';
      try {
        loadConfig({ ...base, BLOB_STORE: value });
      } catch (e) {
        message = (e as Error).message;
      }
      const lines = message.split('\n').filter((l) => l.startsWith('  - '));
      expect(lines, value).toHaveLength(1);
      expect(lines[0]).toMatch(/^ {2}- BLOB_STORE: /);
      expect(lines[0]).toContain(says);
      expect(message).not.toContain('TOPSECRET');
    }
  });
});
