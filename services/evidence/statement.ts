/**
 * The evidence receipt of a release that reached Production: an in-toto Statement v1 whose subjects are its
 * packages (name and sha256) and whose predicate is how it got there. Pure: the caller gathers the facts.
 */
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const PREDICATE_TYPE = 'https://releasedesk.dev/evidence/release/v1';

export interface EvidenceFacts {
  desk: string;
  ticket: number;
  rtUrl: string;
  product: string;
  productName: string;
  version: string;
  revision: number;
  packages: Array<{ filename: string; sha256: string; size: number }>;
  /** every transition that brought it to Production, this one last */
  transitions: Array<{ action: string; actor: string; from: string; to: string; at: string; rtTransaction: number | null }>;
  /** the dependency check that let it into Production */
  dependencies: { satisfied: boolean; unmet: number; unchecked: number; baseRepos: string[] };
  /** the repositories it is in, with the version and the digest of their signed index */
  repositories: Array<{ url: string; version: number; index: string; indexSha256: string }>;
  signingKeys: string[];
  at: string;
}

export interface Statement {
  _type: typeof STATEMENT_TYPE;
  subject: Array<{ name: string; digest: { sha256: string } }>;
  predicateType: typeof PREDICATE_TYPE;
  predicate: Record<string, unknown>;
}

export function evidenceStatement(f: EvidenceFacts): Statement {
  return {
    _type: STATEMENT_TYPE,
    subject: [...f.packages]
      .sort((a, b) => (a.filename < b.filename ? -1 : 1))
      .map((p) => ({ name: p.filename, digest: { sha256: p.sha256 } })),
    predicateType: PREDICATE_TYPE,
    predicate: {
      desk: f.desk,
      release: {
        ticket: f.ticket,
        ticketUrl: `${f.rtUrl}/Ticket/Display.html?id=${f.ticket}`,
        product: f.product,
        name: f.productName,
        version: f.version,
        revision: f.revision,
      },
      transitions: f.transitions,
      checks: {
        // what each package passed on its way in (services/artifacts, check-headers, services/deps)
        digests: {
          passed: true,
          packages: f.packages.length,
          how: 'sha256 and size of each download compared with release.xml, computed while streaming',
        },
        headers: { passed: true, how: 'name, version, release and architecture in each package header compared with release.xml' },
        dependencies: { passed: f.dependencies.satisfied, ...f.dependencies, target: 'production' },
      },
      packages: f.packages.map((p) => ({ name: p.filename, sha256: p.sha256, size: p.size })),
      repositories: f.repositories,
      signingKeys: f.signingKeys,
      issuedAt: f.at,
    },
  };
}

/** The bytes that are signed and served: stable key order, a newline at the end. */
export const statementBytes = (s: Statement): Buffer => Buffer.from(`${JSON.stringify(s, null, 2)}\n`);
