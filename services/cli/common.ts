import Table from 'cli-table3';

/**
 * Exit codes: 0 done, 1 the service said no (not found, not allowed), 2 usage, 3 the service is unreachable,
 * 4 validate found requirements the target would not meet, 5 drift found differences, 6 verify-evidence failed.
 */
export const EXIT = { ok: 0, refused: 1, usage: 2, unreachable: 3, unmet: 4, drift: 5, evidence: 6 } as const;

export interface Globals {
  url: string;
  json: boolean;
  token?: string;
}

export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** The answer to one request, refused answers turned into a CliError that says what to do. */
export async function request(g: Globals, method: string, path: string, accept = 'application/json'): Promise<Response> {
  let res: Response;
  try {
    const auth: Record<string, string> = g.token ? { authorization: `Bearer ${g.token}` } : {};
    res = await fetch(`${g.url}${path}`, { method, headers: { accept, ...auth } });
  } catch (e) {
    throw new CliError(
      `cannot reach releasedesk at ${g.url}: ${(e as Error).cause ?? (e as Error).message} (set --url or RELEASEDESK_URL)`,
      EXIT.unreachable,
    );
  }
  if (res.ok) return res;
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  throw new CliError(
    `[${body.error ?? res.status}] ${body.message ?? res.statusText}${body.next ? `\n${body.next}` : ''}`,
    res.status >= 500 ? EXIT.unreachable : EXIT.refused,
  );
}

export async function call(g: Globals, method: string, path: string): Promise<Record<string, unknown>> {
  const res = await request(g, method, path);
  return (await res.json().catch(() => ({}))) as Record<string, unknown>;
}

export const when = (v: unknown) => (v ? String(v).replace('T', ' ').slice(0, 19) : '');
export const dash = (v: unknown) => (v === null || v === undefined || v === '' ? '-' : String(v));

export function table(head: string[], rows: unknown[][]): string {
  const t = new Table({ head, style: { head: [], border: [] } });
  t.push(...rows.map((r) => r.map(dash)));
  return t.toString();
}

export function out(g: Globals, data: unknown, text: () => string) {
  console.log(g.json ? JSON.stringify(data, null, 2) : text());
}
