import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { startService } from '../../../services/main.ts';
import { startSigner } from '../../../services/signing/signer.ts';
import { uniquePrefix } from '../../support/app.ts';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../../support/env.ts';
import { agentsUnder, fingerprintsIn, makeTestKey, signingHomes } from '../../support/signing-keys.ts';

// The service as an operator starts it: a bad key stops `npm start` with one line and exit 2 before
// anything else runs; with no key configured it generates one, logs its fingerprint and serves it.
const MAIN = join(import.meta.dirname, '../../../services/main.ts');
const base = { RT_TOKEN: 'test-token-0123456789abcdef', WEBHOOK_SECRET: 'test-webhook-secret-0123456789' };
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-start-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function runMain(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(process.execPath, [MAIN], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      done({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
    child.stdin?.end();
  });
}

describe('npm start with a bad signing key', () => {
  it('prints one line naming the file and what to do, exits 2, and starts nothing', async () => {
    const k = await makeTestKey(join(root, 'keys'), 'weak', { algo: 'rsa2048' });
    const storage = join(root, 'bad-storage');
    const r = await runMain({
      ...base,
      STORAGE_DIR: storage,
      SIGNING_KEY_FILES: k.secret,
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/never', // never reached: the keys come first
      LOG_LEVEL: 'silent',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `signing key ${k.secret}: key ${k.fingerprint} signs with RSA-2048, which sites cannot all verify (EL8's rpm has no EdDSA); ` +
        'use an RSA key of 3072 bits or more (gpg --quick-gen-key UID rsa3072 sign 3y)\n',
    );
    expect(await signingHomes(storage)).toEqual([]);
  });
});

describe('the service with no signing key configured', () => {
  it('generates the key, logs its fingerprint, serves it at /keys/, and stops its agent at stop', async () => {
    const storage = join(root, 'storage');
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, next) {
        lines.push(String(chunk));
        next();
      },
    });
    const config = loadConfig({
      ...base,
      PORT: '0',
      STORAGE_DIR: storage,
      DATABASE_URL: TEST_DATABASE_URL,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: uniquePrefix('signing'),
    });
    const svc = await startService(config, 'api', pino({ level: 'info' }, sink));
    let home: string | undefined;
    try {
      const url = `http://127.0.0.1:${(svc.server!.address() as AddressInfo).port}`;
      const generated = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'generated the repository signing key: back up this file');
      expect(generated).toMatchObject({
        file: join(storage, 'signing', 'releasedesk-signing.asc'),
        fingerprint: expect.stringMatching(/^[0-9A-F]{40}$/),
      });
      const res = await fetch(`${url}/keys/releasedesk.asc`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/pgp-keys');
      const served = join(root, 'served.asc');
      await writeFile(served, await res.text());
      expect(await fingerprintsIn(served)).toEqual([generated.fingerprint]);
      expect((await fetch(`${url}/keys/${generated.fingerprint}.asc`)).status).toBe(200);
      expect((await fetch(`${url}/keys/${'0'.repeat(40)}.asc`)).status).toBe(404);
      [home] = await signingHomes(storage);
      expect(await agentsUnder(home!)).toHaveLength(1);
    } finally {
      await svc.stop();
    }
    expect(await signingHomes(storage)).toEqual([]);
    expect(await agentsUnder(home!)).toEqual([]);
  });
});

describe('after a crash', () => {
  it('the next start removes the home and ends the agent that a killed process of this host left behind', async () => {
    const storage = join(root, 'crashed');
    const gone = (await promisify(execFile)(process.execPath, ['-e', 'console.log(process.pid)'])).stdout.trim(); // exited
    const stale = join(storage, 'signing', 'gnupg', `${hostname()}-${gone}-abcdef`);
    await mkdir(stale, { recursive: true, mode: 0o700 });
    await promisify(execFile)('gpgconf', ['--homedir', stale, '--launch', 'gpg-agent']);
    expect(await agentsUnder(stale)).toHaveLength(1);
    const signer = await startSigner({ storageDir: storage, keys: [] });
    try {
      expect(await signingHomes(storage)).toEqual([expect.stringMatching(new RegExp(`^${hostname()}-${process.pid}-`))]);
      expect(await agentsUnder(stale)).toEqual([]);
    } finally {
      await signer.stop();
    }
  });
});
