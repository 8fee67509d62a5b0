import type { ErrorRequestHandler } from 'express';
import type { ServerResponse } from 'node:http';
import { catalog, isRdError } from '../errors.ts';
import type { Logger } from '../log.ts';

export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** The one place that turns errors into HTTP answers. Unknown errors never leak internals. */
export function errorAnswer(err: unknown, log: Logger, path: string): Answer {
  if (isRdError(err)) {
    const entry = catalog[err.code];
    return { status: entry.http, body: { error: err.code, message: err.message, next: entry.next, ...err.details } };
  }
  // body-parser's and raw-body's own errors carry a type
  const type = (err as { type?: string }).type;
  if (type === 'entity.too.large')
    return {
      status: 413,
      body: { error: 'RD_PAYLOAD_TOO_LARGE', message: 'body over the limit', next: catalog.RD_PAYLOAD_TOO_LARGE.next },
    };
  const ref = `req-${Date.now().toString(36)}`;
  log.error({ err, ref, path }, 'unhandled error');
  return { status: 500, body: { error: 'RD_INTERNAL', message: `internal error, reference ${ref}`, next: catalog.RD_INTERNAL.next } };
}

export function httpErrorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const a = errorAnswer(err, log, req.path);
    res.status(a.status).json(a.body);
  };
}

/** A JSON answer without Express, for the paths answered before it (the webhook). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
