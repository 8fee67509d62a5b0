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
  const get = (page: number) => session.request<Page<T>>({ ...req, method: 'GET', params: { ...req.params, per_page: PER_PAGE, page } });
  // two pages at a time: most collections fit in one, and the empty page that proves it costs no extra round trip
  for (let page = 1; page <= MAX_PAGES; page += 2) {
    const pair = [get(page), get(page + 1)] as const;
    pair[1].catch(() => undefined); // judged only when the first page is not the last
    for (const [i, p] of pair.entries()) {
      const n = page + i;
      const res = await p;
      const items = res.data?.items ?? [];
      all.push(...items);
      if (items.length === 0) return all;
      const pages = res.data.pages;
      if (typeof pages === 'number' && n >= pages) return all;
    }
  }
  return all;
}

/** A value inside single quotes of TicketSQL / TransactionSQL. */
export const sqlString = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
