/**
 * Drives one sample release through the running service and the real RT: builds two tiny RPMs,
 * serves them from a loopback "provider", opens a ticket as provider1 with release.xml attached,
 * sets RepoAction=MoveToUnverified, waits for RepoStatus, and checks the repository with real dnf.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RtClient } from '../services/helpdesk/rt-client.ts';
import { buildTestPackages } from '../test/support/packages.ts';
import { startProviderServer } from '../test/support/provider-server.ts';
import { checkYumRepo } from '../test/support/repo-clients.ts';
import { releaseXml } from '../test/support/release-xml.ts';

const RT_URL = process.env.RT_URL ?? 'http://127.0.0.1:8085';
const stateDir = process.env.RT_STATE_DIR ?? '/var/lib/releasedesk-rt';
const token = (user: string) => readFileSync(path.join(stateDir, 'tokens', `${user}.token`), 'utf8').trim();
const say = (s: string) => console.log(`[demo] ${s}`);

async function main() {
  const t0 = Date.now();
  const pkgs = await buildTestPackages(await mkdtemp(path.join(tmpdir(), 'rd-demo-')), 3);
  const provider = await startProviderServer({ dir: pkgs.dir });
  say(`sample provider serves ${pkgs.rpms.length} RPMs at ${provider.url}/rpm/`);
  const product = `DEMO.demo-tool.el9.noarch`;
  const spec = (name: string) => {
    const p = pkgs.rpm(name);
    return {
      filename: p.filename,
      pkgname: name,
      version: '1.0.0',
      release: '1',
      arch: 'noarch',
      url: `${provider.url}/rpm/${p.filename}`,
      sha256: p.sha256,
    };
  };
  const xml = releaseXml({ product, packages: [spec('testpkg'), spec('testpkg-dep')] });
  const providerRt = new RtClient({ baseUrl: RT_URL, token: token('provider1') });
  const service = new RtClient({ baseUrl: RT_URL, token: token('releasedesk') });
  const ticket = await providerRt.createTicket({
    subject: `Release demo-tool 1.0.0 (${new Date().toISOString()})`,
    requestor: 'provider1',
    content: 'Please publish demo-tool 1.0.0.',
    attachments: [{ filename: 'release.xml', contentType: 'application/xml', content: Buffer.from(xml) }],
  });
  say(`provider1 opened ticket ${ticket} with release.xml: ${RT_URL}/Ticket/Display.html?id=${ticket}`);
  await providerRt.setCustomFields(ticket, { RepoAction: 'MoveToUnverified' });
  say('provider1 set RepoAction=MoveToUnverified; RT posted the signed webhook to releasedesk');
  let last = '';
  for (let i = 0; i < 300; i++) {
    const status = (await service.getTicket(ticket)).customFields.RepoStatus?.[0] ?? '';
    if (status !== last) say(`RepoStatus=${status || '(unset)'}`);
    last = status;
    if (status === 'Unverified' || status === 'Failed') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await provider.close();
  const t = await service.getTicket(ticket);
  const uri = t.customFields.RepoURI?.[0];
  const comments = (await service.textParts(ticket)).filter((c) => c.includes('-- releasedesk op'));
  if (comments[0]) console.log(`\n${comments[0].replace(/^/gm, '    ')}\n`);
  if (last !== 'Unverified' || !uri) throw new Error(`ticket ${ticket} ended in ${last || '(unset)'}; see var/releasedesk.log`);
  const dnf = await checkYumRepo(uri, 'testpkg-dep');
  say(dnf.ok ? `real dnf: ${dnf.output.split('\n').pop()}` : `dnf could not read ${uri}:\n${dnf.output}`);
  say(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  say(`RT web UI:  ${RT_URL}/  (provider1 / provider1-password, tug1 / tug1-password, root / password)`);
  say(`repository: ${uri}   client file: ${uri}${product}.repo`);
  const desk = process.env.PUBLIC_URL ?? 'http://127.0.0.1:8080';
  say(`service:    ${desk}/healthz  /metrics  /schemas/release-v0.2.xsd`);
  say(`sign in:    ${desk}/login with an RT account (as above); ${desk}/account issues a token for the CLI`);
  if (!dnf.ok) process.exit(1);
}

main().catch((e) => {
  console.error(`[demo] ${e.message ?? e}`);
  process.exit(1);
});
