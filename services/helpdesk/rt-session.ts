import axios, { type AxiosInstance, type AxiosResponse, type Method } from 'axios';
import http from 'node:http';
import https from 'node:https';
import { RdError } from '../errors.ts';
import type { Logger } from '../log.ts';

/**
 * HTTP to RT: reads with RT's session cookie, writes with the token in the Authorization header.
 *
 * A token-authenticated request makes RT bcrypt-verify the token (RT's default cost 12: ~220-300 ms
 * per request on 2 cores); a session cookie costs nothing. One request with the token to a web-UI
 * path logs in and returns `Set-Cookie: RT_SID_<rtname>.<port>=...`; reads then send only the cookie.
 * When the session is gone RT answers REST2 calls that carry a cookie with `302 Location: /` (it takes
 * a cookie for a browser), without one with 401: both mean "log in again", once.
 *
 * Writes never carry the cookie: since Debian's request-tracker5 5.0.3+dfsg-3~deb12u7 (CVE-2026-108277)
 * RT applies its referrer check to cookie-authenticated REST2 POST/PUT/DELETE and answers 403 "Possible
 * CSRF". The advisory exempts clients that authenticate with the Authorization header; a forged Referer
 * would break whenever RT_URL is not RT's configured base URL (a proxy, another name), so each write
 * pays one bcrypt check instead. RT's 401/403 to a write is RD_HELPDESK_WRITE_REFUSED: RT is there and
 * says no, which no retry at the network's pace changes.
 */

export interface RtSessionOptions {
  baseUrl: string;
  token: string;
  logger?: Logger;
  /** per request; an RT update that fires the webhook scrip waits for the receiver (its timeout is 5 s) */
  timeoutMs?: number;
}

export interface RtRequest {
  method: Method;
  /** under /REST/2.0, e.g. `/ticket/1` */
  path: string;
  params?: Record<string, string | number>;
  body?: unknown;
  /** what a 404 (or a 403 to a GET: not visible) means here (a ticket path: RD_TICKET_NOT_FOUND) */
  notFound?: () => Error;
}

export interface RtStats {
  /** token logins (each one a bcrypt verification in RT) */
  logins: number;
  requests: number;
  /** writes, each sent with the token (each one a bcrypt verification in RT) */
  tokenRequests: number;
  /** requests repeated after the session had expired */
  retries: number;
}

/** The web-UI path used to log in: cheapest page that authenticates (plain text, nothing rendered). */
const LOGIN_PATH = '/REST/1.0/';

export class RtSession {
  readonly stats: RtStats = { logins: 0, requests: 0, tokenRequests: 0, retries: 0 };
  private readonly http: AxiosInstance;
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly token: string;
  private readonly log?: Logger;
  private cookie?: string;
  private loggingIn?: Promise<string>;

  constructor(opts: RtSessionOptions) {
    this.token = opts.token;
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 20_000;
    this.log = opts.logger?.child({ component: 'rt' });
    this.http = axios.create({
      baseURL: this.baseUrl,
      timeout: this.timeoutMs,
      maxRedirects: 0, // an expired session is a 302 to the login page: never follow it
      validateStatus: () => true,
      headers: { Accept: 'application/json' },
      proxy: false, // RT is reached directly, never through an HTTP(S)_PROXY from the environment
    });
  }

  /**
   * Whether RT takes this user's password (REST2 with HTTP Basic auth, outside the service's session): how a
   * person signs in to releasedesk. RD_HELPDESK_UNAVAILABLE when RT does not answer.
   */
  async checkPassword(user: string, password: string): Promise<boolean> {
    const res = await this.transport(() =>
      this.http.request({
        method: 'GET',
        url: `/REST/2.0/user/${encodeURIComponent(user)}`,
        auth: { username: user, password },
        headers: { Cookie: '' },
      }),
    );
    if (res.status >= 500) throw unavailable(`RT answered ${res.status} to a sign-in check`);
    return res.status === 200;
  }

  /** A read goes with the session cookie (logging in first, and once more if RT dropped it); a write with the token. */
  async request<T>(req: RtRequest): Promise<AxiosResponse<T>> {
    if (!READS.has(req.method.toUpperCase())) return this.write<T>(req);
    let cookie = this.cookie ?? (await this.login());
    let res = await this.send<T>(req, cookie);
    if (isUnauthenticated(res)) {
      this.stats.retries++;
      this.log?.info({ status: res.status }, 'RT session expired; logging in again');
      cookie = await this.login(cookie);
      res = await this.send<T>(req, cookie);
      if (isUnauthenticated(res)) {
        throw new RdError('RD_HELPDESK_REFUSED', 'RT does not accept the session of a fresh token login', { path: req.path });
      }
    }
    checkStatus(res, req);
    return res;
  }

  private async write<T>(req: RtRequest): Promise<AxiosResponse<T>> {
    this.stats.tokenRequests++;
    const res = await this.send<T>(req, { Authorization: `token ${this.token}` });
    if (res.status === 401 || res.status === 403) {
      throw new RdError(
        'RD_HELPDESK_WRITE_REFUSED',
        `RT refuses the service's writes: RT answered ${res.status} to ${req.method} ${req.path}: ${rtMessage(res.data)}`,
        {
          status: res.status,
          path: req.path,
        },
      );
    }
    checkStatus(res, req);
    return res;
  }

  /** Logs in with the token; concurrent callers share one login. `stale` = the cookie that failed. */
  async login(stale?: string): Promise<string> {
    if (this.cookie && this.cookie !== stale) return this.cookie;
    this.loggingIn ??= this.tokenLogin().finally(() => (this.loggingIn = undefined));
    return this.loggingIn;
  }

  private async tokenLogin(): Promise<string> {
    const started = Date.now();
    this.stats.logins++;
    const res = await this.transport(() => tokenGet(new URL(LOGIN_PATH, this.baseUrl), this.token, this.timeoutMs));
    if (res.status >= 500) throw unavailable(`RT answered ${res.status} to the token login`);
    const cookie = sessionCookie(res.setCookie);
    // a rejected token still gets an (anonymous) session cookie; RT says so in the body
    if (!cookie || / 401 /.test(res.body.split('\n', 1)[0] ?? '')) {
      throw new RdError('RD_HELPDESK_REFUSED', 'RT rejected the auth token (wrong, revoked or its user disabled)', {
        status: res.status,
      });
    }
    this.cookie = cookie;
    this.log?.info({ ms: Date.now() - started }, 'RT session opened with the auth token');
    return cookie;
  }

  private async send<T>(req: RtRequest, auth: string | { Authorization: string }): Promise<AxiosResponse<T>> {
    const started = Date.now();
    this.stats.requests++;
    const res = await this.transport(() =>
      this.http.request<T>({
        method: req.method,
        url: `/REST/2.0${req.path}`,
        params: req.params,
        data: req.body === undefined ? undefined : JSON.stringify(req.body),
        headers: {
          ...(typeof auth === 'string' ? { Cookie: auth } : auth),
          ...(req.body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
      }),
    );
    this.log?.debug({ method: req.method, path: req.path, status: res.status, ms: Date.now() - started }, 'RT call');
    return res;
  }

  private async transport<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      const e = err as { code?: string; message?: string };
      throw unavailable(`RT did not answer: ${e.code ?? ''} ${e.message ?? String(err)}`.trim());
    }
  }
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

function isUnauthenticated(res: AxiosResponse): boolean {
  return res.status === 401 || (res.status >= 300 && res.status < 400);
}

function checkStatus(res: AxiosResponse, req: RtRequest): void {
  if (res.status < 300) return;
  const message = rtMessage(res.data);
  if (res.status >= 500) throw unavailable(`RT answered ${res.status} to ${req.method} ${req.path}: ${message}`);
  // a ticket the service user may not see is, to the service, not a ticket of its queue: no retry helps
  if ((res.status === 404 || (res.status === 403 && req.method === 'GET')) && req.notFound) throw req.notFound();
  throw new RdError('RD_HELPDESK_REFUSED', `RT refused ${req.method} ${req.path} (${res.status}): ${message}`, {
    status: res.status,
    path: req.path,
  });
}

export function rtMessage(data: unknown): string {
  if (Array.isArray(data)) return data.map(String).join('; ');
  if (data && typeof data === 'object' && 'message' in data) return String((data as { message: unknown }).message);
  return String(data ?? '').slice(0, 200);
}

/**
 * GET with the token, by node:http rather than axios: for an unprivileged user RT answers the login
 * with a redirect to /SelfService/ whose chunked body ends twice ("0\r\n\r\n0\r\n\r\n"); Node's
 * parser then fails the request after the response is complete (HPE_CLOSED_CONNECTION), and axios
 * with it. Here the response counts as soon as its headers are in.
 */
function tokenGet(url: URL, token: string, timeoutMs: number): Promise<{ status: number; setCookie: string[]; body: string }> {
  const get = url.protocol === 'https:' ? https.get : http.get;
  return new Promise((resolve, reject) => {
    let head: { status: number; setCookie: string[] } | undefined;
    let body = '';
    const done = () => resolve({ ...head!, body });
    const req = get(url, { headers: { Authorization: `token ${token}`, Connection: 'close' }, timeout: timeoutMs }, (res) => {
      head = { status: res.statusCode ?? 0, setCookie: res.headers['set-cookie'] ?? [] };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      res.on('end', done);
      res.on('error', done);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => (head ? done() : reject(e)));
  });
}

function sessionCookie(setCookie: string[] | undefined): string | undefined {
  const found = (setCookie ?? []).map((c) => c.split(';', 1)[0]!.trim()).filter((c) => c.startsWith('RT_SID_'));
  return found.at(-1);
}

const unavailable = (message: string) => new RdError('RD_HELPDESK_UNAVAILABLE', message);
