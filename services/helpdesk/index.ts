import type { Config } from '../../config/index.ts';
import type { Logger } from '../log.ts';
import { actionHistory } from './action-history.ts';
import type { Helpdesk } from './port.ts';
import { memberOf, type DirectoryGroup } from './rt-directory.ts';
import { RtClient } from './rt-client.ts';

/** The workflow's view of RT: RtClient plus the few lookups the engine combines from it. */
export class RtHelpdesk implements Helpdesk {
  private readonly emails = new Map<string, string | undefined>();
  private groups?: { at: number; read: Promise<DirectoryGroup[]> };

  readonly client: RtClient;
  /** how old a read of RT's groups may be to answer userGroups without `fresh` */
  private readonly groupsMaxAgeMs: number;

  constructor(client: RtClient, groupsMaxAgeMs = 0) {
    this.client = client;
    this.groupsMaxAgeMs = groupsMaxAgeMs;
  }

  getTicket(id: number) {
    return this.client.getTicket(id);
  }
  getReleaseXml(ticketId: number) {
    return this.client.getReleaseXml(ticketId);
  }
  comment(
    ticketId: number,
    text: string,
    attachments?: Array<{ name: string; type: string; base64: string }>,
    fields?: Record<string, string>,
  ) {
    return this.client.comment(ticketId, text, attachments, fields);
  }
  hasComment(ticketId: number, marker: string) {
    return this.client.hasComment(ticketId, marker);
  }
  noteText(ticketId: number, transactionIds: number[]) {
    return this.client.noteText(ticketId, transactionIds);
  }
  setCustomFields(ticketId: number, fields: Record<string, string>) {
    return this.client.setCustomFields(ticketId, fields);
  }
  async ping() {
    await this.client.ping();
  }
  checkPassword(name: string, password: string) {
    return this.client.session.checkPassword(name, password);
  }

  /** Reads what every action asks for first (the queue's fields, the groups), so that the first one finds it. */
  async warm(): Promise<void> {
    await Promise.all([this.client.customFieldId('RepoAction'), this.directory()]);
  }

  async readTicket(id: number) {
    const history = Promise.all([this.client.customFieldId('RepoAction'), this.client.getHistory(id)]);
    history.catch(() => undefined); // a ticket of another queue, or none, leaves it unread
    const ticket = await this.client.getTicket(id);
    const current = ticket.customFields.RepoAction?.[0] ?? null;
    return { ticket, history: history.then(([fieldId, all]) => actionHistory(all, fieldId, current)) };
  }

  /**
   * Membership takes 1 + (number of groups) requests to read, and every action asks for it: one read serves
   * all users for `groupsMaxAgeMs`, and concurrent callers share a read in flight.
   */
  async userGroups(name: string, opts: { fresh?: boolean } = {}): Promise<string[]> {
    return memberOf(await this.directory(opts.fresh), name);
  }

  /** The group's id from the same read as membership: a name RT no longer knows is looked up again. */
  async addAdminCcGroup(ticketId: number, group: string) {
    const known = (await this.directory()).find((g) => g.Name.toLowerCase() === group.trim().toLowerCase());
    return this.client.addAdminCcGroup(ticketId, group, known ? Number(known.id) : undefined);
  }

  private directory(fresh = false): Promise<DirectoryGroup[]> {
    const cached = this.groups;
    if (!fresh && cached && Date.now() - cached.at <= this.groupsMaxAgeMs) return cached.read;
    const entry = { at: Date.now(), read: this.client.readGroups() };
    this.groups = entry;
    entry.read.catch(() => {
      if (this.groups === entry) this.groups = undefined;
    });
    return entry.read;
  }

  async getUserEmail(name: string): Promise<string | undefined> {
    if (!this.emails.has(name)) this.emails.set(name, (await this.client.getUser(name))?.email || undefined);
    return this.emails.get(name);
  }
}

export function createHelpdesk(config: Config, log: Logger): RtHelpdesk {
  return new RtHelpdesk(
    new RtClient({ baseUrl: config.RT_URL, token: config.RT_TOKEN, queue: config.RT_QUEUE, logger: log }),
    config.RT_GROUPS_MAX_AGE_MS,
  );
}
