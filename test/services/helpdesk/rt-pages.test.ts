import { describe, expect, it } from 'vitest';
import { collect } from '../../../services/helpdesk/rt-pages.ts';
import type { RtRequest, RtSession } from '../../../services/helpdesk/rt-session.ts';

/** RT's collection paging, as a session answers it: `n` items, 100 a page, `pages` only when told to. */
function pagedSession(n: number, opts: { tellPages?: boolean; failPage?: number; delayMs?: number } = {}) {
  const asked: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const session = {
    async request(req: RtRequest) {
      const page = Number(req.params!.page);
      asked.push(page);
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((r) => setTimeout(r, opts.delayMs ?? 5));
      inFlight--;
      if (page === opts.failPage) throw new Error(`page ${page} failed`);
      const items = Array.from({ length: Math.max(0, Math.min(100, n - (page - 1) * 100)) }, (_, i) => ({ id: (page - 1) * 100 + i }));
      return { data: { items, ...(opts.tellPages && { pages: Math.ceil(n / 100) }) } };
    },
  } as unknown as RtSession;
  return { session, asked, maxInFlight: () => maxInFlight };
}

describe('collect', () => {
  it('reads every item of a short collection with its proof page side by side, in one round trip', async () => {
    const s = pagedSession(7);
    const t0 = Date.now();
    expect((await collect<{ id: number }>(s.session, { path: '/x' })).map((i) => i.id)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(s.asked.sort()).toEqual([1, 2]);
    expect(s.maxInFlight()).toBe(2);
    expect(Date.now() - t0).toBeLessThan(200);
  });

  it('reads several pages in order until the first empty one', async () => {
    const s = pagedSession(250);
    const items = await collect<{ id: number }>(s.session, { path: '/x' });
    expect(items.map((i) => i.id)).toEqual([...Array(250).keys()]);
    expect(s.asked.sort()).toEqual([1, 2, 3, 4]);
  });

  it('a full page is not the last: 200 items need the empty third page', async () => {
    const s = pagedSession(200);
    expect(await collect(s.session, { path: '/x' })).toHaveLength(200);
    expect(s.asked.sort()).toEqual([1, 2, 3, 4]);
  });

  it('stops where RT says the last page is, and a failed look beyond it does not matter', async () => {
    const s = pagedSession(50, { tellPages: true, failPage: 2 });
    expect(await collect(s.session, { path: '/x' })).toHaveLength(50);
  });

  it('a failed page that is needed fails the read', async () => {
    const s = pagedSession(150, { failPage: 2 });
    await expect(collect(s.session, { path: '/x' })).rejects.toThrow('page 2 failed');
  });
});
