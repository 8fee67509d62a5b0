import { describe, expect, it } from 'vitest';
import { clientFileName, clientFileText, clientFileUrl, repoUrl, repoUrlPath, signingKeyUrl } from '../../../services/storage/repo-url.ts';
import type { RepoRef } from '../../../services/storage/repo-ref.ts';

const yum: RepoRef = { stage: 'production', product: 'EXAMPLETP.frontier-squid.centos7.x86_64', kind: 'yum' };
const apt: RepoRef = { stage: 'stage-rollout', product: 'EXAMPLETP.foo.debian12.amd64', kind: 'apt' };

describe('repository URLs', () => {
  it('mirror the layout under PUBLIC_URL/repos, with a trailing slash', () => {
    expect(repoUrl('https://repo.example.org', yum)).toBe(
      'https://repo.example.org/repos/production/EXAMPLETP.frontier-squid.centos7.x86_64/',
    );
    expect(repoUrl('https://repo.example.org/base//', apt)).toBe(
      'https://repo.example.org/base/repos/stage-rollout/EXAMPLETP.foo.debian12.amd64/',
    );
    expect(repoUrlPath({ ...apt, product: 'a+b' })).toBe('repos/stage-rollout/a%2Bb/');
  });

  it('name the client file after the product and point it at the repository', () => {
    expect(clientFileName(yum)).toBe('EXAMPLETP.frontier-squid.centos7.x86_64.repo');
    expect(clientFileUrl('http://h', apt)).toBe(
      'http://h/repos/stage-rollout/EXAMPLETP.foo.debian12.amd64/EXAMPLETP.foo.debian12.amd64.list',
    );
    expect(clientFileText('http://h', { ...yum, product: 'a+b' })).toMatch(
      /^\[a_b-production\]\nname=a\+b \(production\)\nbaseurl=http:\/\/h\/repos\/production\/a%2Bb\/\n/,
    );
  });

  it('trust the repository through its signature only, by the key served at PUBLIC_URL/keys/', () => {
    expect(signingKeyUrl('https://repo.example.org/base/')).toBe('https://repo.example.org/base/keys/releasedesk.asc');
    expect(clientFileText('http://h', apt)).toBe(
      [
        '# Signed repository: fetch its key once, as root, before apt update:',
        '#   install -d -m 0755 /etc/apt/keyrings && curl -fsSLo /etc/apt/keyrings/releasedesk.asc http://h/keys/releasedesk.asc',
        'deb [signed-by=/etc/apt/keyrings/releasedesk.asc] http://h/repos/stage-rollout/EXAMPLETP.foo.debian12.amd64/ ./',
        '',
      ].join('\n'),
    );
    const repo = clientFileText('http://h', yum);
    expect(repo).toMatch(/^repo_gpgcheck=1$/m);
    expect(repo).toMatch(/^gpgcheck=0$/m);
    expect(repo).toMatch(/^# The packages carry their provider's signatures, not releasedesk's/m);
    expect(repo).toMatch(/^gpgkey=http:\/\/h\/keys\/releasedesk.asc$/m);
    for (const text of [repo, clientFileText('http://h', apt)]) expect(text).not.toContain('trusted');
  });
});
