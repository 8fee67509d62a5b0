import { describe, expect, it } from 'vitest';
import { actionJobV1 } from '../../schemas/job-action.v1.ts';
import { lockKeys } from '../../services/db/locks.ts';

const job = (exclusive: string[]) => ({ v: 1, ticketId: 123, inboxId: 7, exclusive });

describe('the action job: its declared serialisation', () => {
  it('takes the keys the enqueuer sets, and any other key lockKeys makes', () => {
    expect(actionJobV1.parse(job([lockKeys.ticket(123)])).exclusive).toEqual(['ticket:123']);
    expect(actionJobV1.safeParse(job([lockKeys.ticket(123), lockKeys.repo('production', 'P.x')])).success).toBe(true);
  });
  it('refuses a key lockKeys would not make', () => {
    for (const bad of ['ticket', 'ticket:', 'tickets:123', 'repo:production', 'repo:production:P.x:more', 'loop:', '']) {
      expect(actionJobV1.safeParse(job([lockKeys.ticket(123), bad])).success, bad).toBe(false);
    }
  });
  it("refuses a job that does not hold its own ticket's key", () => {
    expect(actionJobV1.safeParse(job([lockKeys.ticket(124)])).success).toBe(false);
    expect(actionJobV1.safeParse(job([])).success).toBe(false);
  });
});
