import type { ErrorRequestHandler } from 'express';
import { catalog, isRdError } from '../errors.ts';
import type { Logger } from '../log.ts';

/** The one place that turns errors into HTTP answers. Unknown errors never leak internals. */
export function httpErrorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (isRdError(err)) {
      const entry = catalog[err.code];
      res.status(entry.http).json({ error: err.code, message: err.message, next: entry.next, ...err.details });
      return;
    }
    // body-parser's own errors carry a status and a type
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') {
      res.status(413).json({ error: 'RD_PAYLOAD_TOO_LARGE', message: 'body over the limit', next: catalog.RD_PAYLOAD_TOO_LARGE.next });
      return;
    }
    const ref = `req-${Date.now().toString(36)}`;
    log.error({ err, ref, path: req.path }, 'unhandled error');
    res.status(500).json({ error: 'RD_INTERNAL', message: `internal error, reference ${ref}`, next: catalog.RD_INTERNAL.next });
  };
}
