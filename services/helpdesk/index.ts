import type { Config } from '../../config/index.ts';
import type { Logger } from '../log.ts';
import type { FieldChange, Helpdesk } from './port.ts';
import { RtClient } from './rt-client.ts';

/** The workflow's view of RT: RtClient plus the few lookups the engine combines from it. */
export class RtHelpdesk implements Helpdesk {
  private readonly emails = new Map<string, string | undefined>();
  constructor(readonly client: RtClient) {}

  getTicket(id: number) { return this.client.getTicket(id); }
  getReleaseXml(ticketId: number) { return this.client.getReleaseXml(ticketId); }
  userGroups(name: string) { return this.client.userGroups(name); }
  comment(ticketId: number, text: string) { return this.client.comment(ticketId, text); }
  hasComment(ticketId: number, marker: string) { return this.client.hasComment(ticketId, marker); }
  addAdminCcGroup(ticketId: number, group: string) { return this.client.addAdminCcGroup(ticketId, group); }
  async actionNote(ticketId: number, transactionId: number) {
    return this.client.actionNote(ticketId, transactionId, await this.client.customFieldId('RepoAction'));
  }
  async setCustomFields(ticketId: number, fields: Record<string, string>) { await this.client.setCustomFields(ticketId, fields); }
  async ping() { await this.client.ping(); }

  async getTransaction(ticketId: number, transactionId: number): Promise<FieldChange | undefined> {
    const t = await this.client.findTransaction(ticketId, transactionId);
    if (!t) return undefined;
    const fieldId = await this.client.customFieldId('RepoAction');
    if (t.type === 'Create') return { ...t, field: 'RepoAction', newValue: await this.client.initialCustomFieldValue(ticketId, 'RepoAction') };
    if (t.type !== 'CustomField' || t.field !== fieldId) return undefined;
    return { ...t, field: 'RepoAction' };
  }

  async actionHistory(ticketId: number): Promise<FieldChange[]> {
    const fieldId = await this.client.customFieldId('RepoAction');
    const all = await this.client.getHistory(ticketId);
    const changes: FieldChange[] = all.filter((t) => t.type === 'CustomField' && t.field === fieldId).map((t) => ({ ...t, field: 'RepoAction' }));
    // a ticket created with RepoAction set records no change for that first value; the first change's old value is it
    const create = all.find((t) => t.type === 'Create');
    if (create && changes[0]?.oldValue) changes.unshift({ ...create, field: 'RepoAction', oldValue: null, newValue: changes[0].oldValue });
    return changes;
  }

  async getUserEmail(name: string): Promise<string | undefined> {
    if (!this.emails.has(name)) this.emails.set(name, (await this.client.getUser(name))?.email || undefined);
    return this.emails.get(name);
  }
}

export function createHelpdesk(config: Config, log: Logger): RtHelpdesk {
  return new RtHelpdesk(new RtClient({ baseUrl: config.RT_URL, token: config.RT_TOKEN, queue: config.RT_QUEUE, logger: log }));
}
