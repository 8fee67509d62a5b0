import type { RtRequest, RtSession } from './rt-session.ts';
import type { Page } from './rt-types.ts';

const PER_PAGE = 100; // RT's cap
const MAX_PAGES = 10_000;

/**
 * Every item of a REST2 collection, page by page.
 *
 * For users without SuperUser RT sends `total`, `pages` and `next_page` as null/absent, and it drops
 * the rows the user may not see AFTER the SQL LIMIT, so a short page is not proof of the last one
 * (e.g. a ticket's history with autoreplies the user may not see). Hence: stop at the first empty
 * page, or when RT does tell the page count. Page numbers are stable for `orderby=id` because new
 * rows only append.
 */
export async function collect<T>(session: RtSession, req: Omit<RtRequest, 'method'>): Promise<T[]> {
  const all: T[] = [];
  for (let page = 1; page <= MAX_PAGES; page++) {
    const res = await session.request<Page<T>>({
      ...req,
      method: 'GET',
      params: { ...req.params, per_page: PER_PAGE, page },
    });
    const items = res.data?.items ?? [];
    all.push(...items);
    if (items.length === 0) break;
    const pages = res.data.pages;
    if (typeof pages === 'number' && page >= pages) break;
  }
  return all;
}

/** A value inside single quotes of TicketSQL / TransactionSQL. */
export const sqlString = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
