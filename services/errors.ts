/**
 * The error catalog. Every error that reaches a ticket comment or an HTTP answer has a stable code here;
 * `test/services/errors.test.ts` guards it. `permanent` errors end a job (Failed + comment) without retry;
 * every other error is retried with backoff.
 */
export const catalog = {
  // webhook edge (HTTP)
  RD_SIGNATURE_MISSING: { http: 401, permanent: true, next: 'Send X-RT-Signature: sha256=<HMAC-SHA256 of the raw body>.' },
  RD_SIGNATURE_INVALID: { http: 401, permanent: true, next: 'Check that RT and releasedesk share the same WEBHOOK_SECRET.' },
  RD_PAYLOAD_INVALID: { http: 400, permanent: true, next: 'Fix the named field; the webhook contract is in the README.' },
  RD_PAYLOAD_TOO_LARGE: { http: 413, permanent: true, next: 'Webhook bodies are limited to 64 KiB.' },
  RD_UNSUPPORTED_MEDIA: { http: 415, permanent: true, next: 'Send Content-Type: application/json.' },
  RD_WEBHOOK_STALE: {
    http: 400,
    permanent: true,
    next: 'RT posts a change within seconds: this is a replay or a delivery held up for long, and is not taken. A real change RT has is picked up from RT by the reconciler; check the clocks of RT and releasedesk if real deliveries get this.',
  },
  RD_AUTH_REQUIRED: {
    http: 401,
    permanent: true,
    next: 'Send Authorization: Bearer <token>: one of API_TOKENS (the CLI reads RELEASEDESK_TOKEN), or the secret this desk shares with yours in PEERS.',
  },
  RD_AUTH_INVALID: {
    http: 401,
    permanent: true,
    next: 'The bearer token is none of API_TOKENS nor a PEERS secret here; check the value with the operator of this desk.',
  },
  RD_SIGNIN_REQUIRED: {
    http: 401,
    permanent: true,
    next: 'Sign in with your RT account at /login, or send Authorization: Bearer <token> (a personal token from /account, or one of API_TOKENS).',
  },
  RD_SIGNIN_FAILED: { http: 401, permanent: true, next: 'Use your RT user name and password, as on the RT web interface.' },
  RD_ADMIN_REQUIRED: { http: 403, permanent: true, next: 'Ask a member of the admin group (ADMIN_GROUP) or an operator with a token.' },
  RD_CSRF_REFUSED: {
    http: 403,
    permanent: true,
    next: 'Submit the form from the releasedesk page itself (a form of another site, or one without its token, is refused); reload the page and try again.',
  },
  RD_NOT_FOUND: { http: 404, permanent: true, next: 'Check the ticket number.' },

  // workflow
  RD_ACTION_NOT_ALLOWED: { http: 409, permanent: true, next: 'Set RepoAction to one of the actions valid now.' },
  RD_ROLE_FORBIDDEN: { http: 403, permanent: true, next: 'Ask a member of the named group to set RepoAction.' },
  RD_DEPENDENCIES_UNMET: {
    http: 409,
    permanent: true,
    next: 'The release waits as Incomplete and is published by itself when a release that provides what is missing lands; or the technology unit rejects it.',
  },
  RD_CONTENT_MISSING: {
    http: 409,
    permanent: true,
    next: 'A stored package of this release is gone; submit the release again on a new ticket.',
  },
  RD_RETENTION_EXPIRED: {
    http: 409,
    permanent: true,
    next: 'The deprecated release is past its retention; submit it again on a new ticket.',
  },
  RD_PACKAGE_CONFLICT: {
    http: 409,
    permanent: true,
    next: 'A distribution holds one content per package name, version and arch: ship the same bytes as the named ticket, or give the package a new version or release (RPM Release, Debian revision) and submit the release again.',
  },
  RD_RELEASE_PURGED: {
    http: 410,
    permanent: true,
    next: "The release's packages were deleted after its retention (its tombstone lists them); to ship it again, open a new ticket.",
  },
  RD_SLA_OVERDUE: {
    http: 409,
    permanent: true,
    next: 'The group whose turn it is decides: move the release on, or reject it with a reason.',
  },
  RD_RELEASE_PUBLISHED: { http: 409, permanent: true, next: 'A published release cannot change; open a new ticket for a new release.' },

  // helpdesk inputs
  RD_TICKET_NOT_FOUND: { http: 404, permanent: true, next: 'The ticket does not exist or is not in the release queue.' },
  RD_ATTACHMENT_MISSING: {
    http: 422,
    permanent: true,
    next: 'Attach the release metadata as a file ending in .xml, then set RepoAction=MoveToUnverified again.',
  },

  // release metadata
  RD_XML_MALFORMED: { http: 422, permanent: true, next: 'Fix the XML syntax at the named line and attach the file again.' },
  RD_XML_FORBIDDEN: { http: 422, permanent: true, next: 'Remove the DOCTYPE / entity declarations; release.xml must not use them.' },
  RD_XML_NAMESPACE: {
    http: 422,
    permanent: true,
    next: 'Use the release.xml v0.2 namespaces (http://repo.egi.eu/0.2/...); the schema is served at /schemas/release-v0.2.xsd.',
  },
  RD_XML_INVALID: {
    http: 422,
    permanent: true,
    next: 'Fix the named element and attach the file again; the schema is served at /schemas/release-v0.2.xsd.',
  },

  // artifacts
  RD_URL_FORBIDDEN: { http: 422, permanent: true, next: 'Publish the package on an http(s) host that the repository team allows.' },
  RD_DOWNLOAD_FAILED: {
    http: 422,
    permanent: true,
    next: 'Make the URL answer 200 with the package, then set RepoAction=MoveToUnverified again.',
  },
  RD_DOWNLOAD_UNAVAILABLE: { http: 503, permanent: false, next: 'The download host did not answer; releasedesk retries by itself.' },
  RD_DOWNLOAD_TOO_LARGE: { http: 422, permanent: true, next: 'The file is larger than the configured limit; ask the repository team.' },
  RD_DIGEST_MISMATCH: { http: 422, permanent: true, next: 'Upload the right file or correct the sha256 attribute in release.xml.' },
  RD_BUNDLE_UNSAFE: {
    http: 422,
    permanent: true,
    next: 'Rebuild the bundle with plain files under relative paths only (no links, devices, absolute or ../ paths).',
  },
  RD_BUNDLE_LIMIT: {
    http: 422,
    permanent: true,
    next: 'The bundle has too many entries or is too large once unpacked; split the release.',
  },
  RD_BUNDLE_CORRUPT: { http: 422, permanent: true, next: 'The bundle is not a readable tar.gz; rebuild and upload it again.' },
  // bundles exported by another releasedesk (services/bundles)
  RD_BUNDLE_UNSIGNED: {
    http: 422,
    permanent: true,
    next: 'A releasedesk bundle must carry releasedesk-bundle.json.asc: export it again on the source desk (releasedesk export TICKET) and do not repack it.',
  },
  RD_BUNDLE_UNTRUSTED: {
    http: 422,
    permanent: true,
    next: "The bundle is not signed by a key this desk trusts: add the source desk's public key (its PUBLIC_URL/keys/releasedesk.asc) to TRUSTED_BUNDLE_KEYS, or ask for a bundle from a trusted desk.",
  },
  RD_BUNDLE_TAMPERED: {
    http: 422,
    permanent: true,
    next: 'The bundle changed after it was signed: fetch it again from the source desk; if it still fails, tell the source desk.',
  },
  RD_BUNDLE_MISMATCH: {
    http: 422,
    permanent: true,
    next: 'Attach the release.xml that releasedesk export wrote with the bundle; only synchURL and synchSha256 may differ from the one in the bundle.',
  },
  RD_PACKAGE_MISSING: { http: 422, permanent: true, next: 'Add the named package to the bundle or fix its filename in release.xml.' },
  RD_PACKAGE_MISMATCH: {
    http: 422,
    permanent: true,
    next: 'Make release.xml agree with the package header (name, version, release, arch).',
  },
  RD_PACKAGE_UNREADABLE: { http: 422, permanent: true, next: 'The file is not a valid RPM or DEB package; rebuild it.' },

  // other desks (PEERS)
  RD_EVIDENCE_INVALID: {
    http: 422,
    permanent: true,
    next: 'Give the .intoto.json file releasedesk served (GET /releases/:ticket/evidence) or attached to the ticket, unchanged.',
  },
  RD_PEER_UNKNOWN: {
    http: 422,
    permanent: true,
    next: 'Add the desk to PEERS (NAME=URL|SECRET, the secret agreed with its operator), or use the name of a configured peer.',
  },
  RD_PEER_UNAVAILABLE: { http: 503, permanent: false, next: 'The other desk did not answer; releasedesk tries again by itself.' },
  RD_PEER_REFUSED: {
    http: 502,
    permanent: false,
    next: 'The other desk refused the call: check that both desks list each other in PEERS with the same secret; releasedesk tries again.',
  },

  // repositories and infrastructure (transient)
  RD_PUBLISH_FAILED: { http: 500, permanent: false, next: 'Publishing the repository index failed; releasedesk retries by itself.' },
  RD_MIRROR_UNAVAILABLE: {
    http: 503,
    permanent: false,
    next: 'The mirror target did not answer or failed; releasedesk syncs it again by itself. `releasedesk sync status` shows its state.',
  },
  RD_MIRROR_REFUSED: {
    http: 502,
    permanent: false,
    next: 'The mirror target refused the sync (credentials, bucket or module rights, space): fix its entry in MIRROR_TARGETS or the target; releasedesk keeps trying.',
  },
  RD_STORE_UNAVAILABLE: {
    http: 503,
    permanent: false,
    next: 'The object store of BLOB_STORE did not answer or failed; releasedesk retries by itself. /healthz shows whether it is back.',
  },
  RD_STORE_REFUSED: {
    http: 502,
    permanent: false,
    next: 'The object store of BLOB_STORE refused the call (credentials, bucket rights, space): fix BLOB_STORE or the store; releasedesk keeps trying.',
  },
  RD_STORE_CORRUPT: {
    http: 500,
    permanent: false,
    next: 'The named object in the object store does not hold the bytes its sha256 says: an operator deletes it (a worker that has the blob puts it again when an action uses it); releasedesk retries by itself.',
  },
  RD_HELPDESK_UNAVAILABLE: { http: 503, permanent: false, next: 'RT did not answer; releasedesk retries by itself.' },
  RD_HELPDESK_REFUSED: { http: 502, permanent: false, next: 'RT refused the change; check the service user rights in RT.' },
  RD_HELPDESK_WRITE_REFUSED: {
    http: 502,
    permanent: false,
    next: 'RT refuses every write of the service user: check that RT_TOKEN is a valid token of an enabled user with the rights README "Connecting an RT" lists, and that nothing in front of RT strips the Authorization header. Write-backs are kept and sent again every OUTBOX_REFUSED_RETRY_MS, and at once when a write goes through.',
  },
  RD_BASE_REPO_UNAVAILABLE: {
    http: 503,
    permanent: false,
    next: 'A base repository of BASE_REPOS could not be read and no earlier copy is at hand; releasedesk retries by itself, and the repository team should check the named URL.',
  },
  RD_BUSY: { http: 503, permanent: false, next: 'Another action on the same ticket or repository is running; retried by itself.' },
  RD_INTERNAL: { http: 500, permanent: false, next: 'Quote the reference to the repository team.' },
} as const satisfies Record<string, { http: number; permanent: boolean; next: string }>;

export type ErrorCode = keyof typeof catalog;

export class RdError extends Error {
  override name = 'RdError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }
  get permanent(): boolean {
    return catalog[this.code].permanent;
  }
}

export const isRdError = (e: unknown): e is RdError =>
  e instanceof RdError ||
  (e instanceof Error && e.name === 'RdError' && typeof (e as RdError).code === 'string' && (e as RdError).code in catalog);
