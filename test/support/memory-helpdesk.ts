/**
 * An in-memory Helpdesk (services/helpdesk/port.ts) for fast unit tests of the runner: tickets, their
 * RepoAction changes and who made them, users' e-mails and groups. The real RT is tested by the e2e suites.
 */
import { RdError } from '../../services/errors.ts';
import type { FieldChange, Helpdesk, TicketHistory, TicketInfo } from '../../services/helpdesk/port.ts';

export interface Change {
  id: number;
  action: string | null;
  by: string;
  old?: string | null;
}

export class MemoryHelpdesk implements Helpdesk {
  readonly tickets = new Map<number, TicketInfo>();
  readonly changes = new Map<number, FieldChange[]>();
  readonly emails: Record<string, string> = {};
  /** what RT says now (a `fresh` read) */
  readonly groups: Record<string, string[]> = {};
  /** what a read that may be a little old says, when it differs from `groups` */
  readonly cachedGroups: Record<string, string[]> = {};
  /** every userGroups call, with its `fresh` */
  readonly groupReads: Array<{ name: string; fresh: boolean }> = [];
  readonly writes: unknown[] = [];

  ticket(id: number, requestors: string[], queue = 'Releases'): this {
    this.tickets.set(id, { id, queue, subject: `ticket ${id}`, requestors, customFields: {} });
    return this;
  }

  /** A RepoAction change of the ticket, as RT's history shows it (oldest first, so in id order). */
  change(ticketId: number, c: Change): this {
    const list = this.changes.get(ticketId) ?? [];
    list.push({
      id: c.id,
      type: 'CustomField',
      field: 'RepoAction',
      oldValue: c.old ?? null,
      newValue: c.action,
      creator: c.by,
      created: new Date().toISOString(),
    });
    list.sort((a, b) => a.id - b.id);
    this.changes.set(ticketId, list);
    return this;
  }

  user(name: string, email: string | undefined, groups: string[] = []): this {
    if (email !== undefined) this.emails[name] = email;
    this.groups[name] = groups;
    return this;
  }

  async getTicket(id: number): Promise<TicketInfo> {
    const t = this.tickets.get(id);
    if (!t) throw new RdError('RD_TICKET_NOT_FOUND', `ticket ${id} not found`);
    return structuredClone(t);
  }

  private async history(ticket: TicketInfo): Promise<TicketHistory> {
    const changes = structuredClone(this.changes.get(ticket.id) ?? []);
    return { changes, notesOf: () => [], newest: Math.max(0, ...changes.map((c) => c.id)) };
  }

  async readTicket(id: number) {
    const ticket = await this.getTicket(id);
    return { ticket, history: this.history(ticket) };
  }

  async getReleaseXml(ticketId: number): Promise<never> {
    throw new RdError('RD_ATTACHMENT_MISSING', `ticket ${ticketId} has no release.xml here`);
  }

  async getUserEmail(name: string): Promise<string | undefined> {
    return this.emails[name];
  }

  async userGroups(name: string, opts: { fresh?: boolean } = {}): Promise<string[]> {
    const fresh = opts.fresh === true;
    this.groupReads.push({ name, fresh });
    return [...((!fresh && this.cachedGroups[name]) || this.groups[name] || [])];
  }

  async setCustomFields(ticketId: number, fields: Record<string, string>) {
    this.writes.push({ ticketId, fields });
  }
  async comment(ticketId: number, text: string, _attachments?: unknown, fields?: Record<string, string>) {
    this.writes.push({ ticketId, text });
    // after the comment, in the same write (as RtClient.comment)
    if (fields && Object.keys(fields).length) this.writes.push({ ticketId, fields });
  }
  async addAdminCcGroup(ticketId: number, group: string) {
    this.writes.push({ ticketId, group });
  }
  async noteText() {
    return null;
  }
  async hasComment() {
    return false;
  }
  async checkPassword(): Promise<boolean> {
    return false; // people sign in against the real RT (test/services/api/signin.test.ts)
  }
  async ping() {}
}
