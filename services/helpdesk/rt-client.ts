import { RdError } from '../errors.ts';
import * as attachments from './rt-attachments.ts';
import { getUser, readGroups, type DirectoryGroup } from './rt-directory.ts';
import { collect } from './rt-pages.ts';
import * as txns from './rt-transactions.ts';
import * as watchers from './rt-watchers.ts';
import { rtMessage, RtSession, type RtSessionOptions, type RtStats } from './rt-session.ts';
import {
  notFound,
  num,
  positive,
  ticketNumber,
  type NewTicket,
  type RtAttachmentInfo,
  type RtCfTransaction,
  type RtReleaseXml,
  type RtTicket,
  type RtTransaction,
  type RtUser,
  type WireTicket,
} from './rt-types.ts';

export type * from './rt-types.ts';

export interface RtClientOptions extends RtSessionOptions {
  /** the release queue: tickets elsewhere are RD_TICKET_NOT_FOUND (default Releases) */
  queue?: string;
}

// RT answers HTTP 200 with messages like these when it changed nothing ...
const REFUSAL = /denied|invalid|could ?n[o']t|not allowed|failed|error|unknown|no such/i;
// ... and like these when it did (they echo the values, which may contain any word)
const DONE = / (added|deleted)$| changed to |is no longer a value for custom field/;
const isRefusal = (m: string) => REFUSAL.test(m) && !DONE.test(m);

/**
 * Request Tracker 5 REST2, as releasedesk needs it. Every call goes through one RT session
 * (cookie), see rt-session.ts. Errors: RD_HELPDESK_UNAVAILABLE (no answer, 5xx: transient),
 * RD_HELPDESK_REFUSED (RT said no, also when it said so with HTTP 200), RD_TICKET_NOT_FOUND.
 */
export class RtClient {
  readonly session: RtSession;
  readonly queue: string;
  private queueIdP?: Promise<number>;
  private cfIdsP?: Promise<Map<string, number>>;

  constructor(opts: RtClientOptions) {
    this.session = new RtSession(opts);
    this.queue = opts.queue ?? 'Releases';
  }

  get stats(): RtStats {
    return this.session.stats;
  }

  /** For health checks: logs in if needed and reads RT's version. */
  async ping(): Promise<{ version: string }> {
    const res = await this.session.request<{ Version?: string }>({ method: 'GET', path: '/rt' });
    return { version: String(res.data?.Version ?? '') };
  }

  async getTicket(id: number): Promise<RtTicket> {
    const path = `/ticket/${ticketNumber(id)}`;
    const [res, queueId] = await Promise.all([
      this.session.request<WireTicket>({ method: 'GET', path, notFound: () => notFound(id) }),
      this.queueId(),
    ]);
    const t = res.data;
    if (num(t.Queue?.id) !== queueId) throw notFound(id, `ticket ${id} is not in queue ${this.queue}`);
    if (t.Status === 'deleted') throw notFound(id, `ticket ${id} is deleted`);
    const customFields: Record<string, string[]> = {};
    for (const cf of t.CustomFields ?? []) customFields[cf.name] = cf.values.filter((v): v is string => v !== null);
    return {
      id: num(t.id),
      queue: this.queue,
      subject: t.Subject,
      status: t.Status,
      requestors: (t.Requestor ?? []).map((r) => String(r.id)),
      customFields,
    };
  }

  /**
   * Sets ticket custom fields by name ("" clears one; null is refused), then proves it, else
   * RD_HELPDESK_REFUSED: by RT's answer when it names every value it stored, else by re-reading the ticket.
   */
  async setCustomFields(id: number, values: Record<string, string>): Promise<void> {
    for (const [name, v] of Object.entries(values)) {
      if (typeof v !== 'string') throw new TypeError(`custom field ${name}: value must be a string ("" clears), got ${v}`);
    }
    // Clearing, as RT 5.0.3 REST2 really behaves: "" replaces the value by a NULL value (read back as
    // `[null]`), null deletes it, and either on an empty field adds a NULL. So "" becomes null, sent
    // only when the field has a value.
    const before = Object.values(values).includes('') ? await this.getTicket(id) : undefined;
    const send: Record<string, string | null> = {};
    for (const [name, v] of Object.entries(values)) {
      if (v !== '') send[name] = v;
      else if (before?.customFields[name]?.length !== 0) send[name] = null;
    }
    let messages: string[] = [];
    if (Object.keys(send).length) {
      const res = await this.session.request<unknown>({
        method: 'PUT',
        path: `/ticket/${ticketNumber(id)}`,
        body: { CustomFields: send },
        notFound: () => notFound(id),
      });
      messages = Array.isArray(res.data) ? res.data.map(String) : [rtMessage(res.data)];
    }
    const refusals = messages.filter(isRefusal);
    // a value already there, a field RT skipped without a word, or RT speaking another language: read back
    if (!refusals.length && namesEvery(messages, values)) return;
    const ticket = Object.keys(send).length || !before ? await this.getTicket(id) : before;
    const wrong = Object.entries(values).filter(([name, v]) => !sameValues(ticket.customFields[name], v));
    if (refusals.length || wrong.length) {
      const fields = wrong.map(
        ([name, v]) => `${name}=${JSON.stringify(v)} (RT has ${JSON.stringify(ticket.customFields[name] ?? 'no such field')})`,
      );
      throw new RdError(
        'RD_HELPDESK_REFUSED',
        `RT did not set ${fields.join(', ') || 'the custom fields'} on ticket ${id}: ${messages.join('; ') || 'no message'}`,
        {
          ticketId: id,
          messages,
          expected: values,
          actual: ticket.customFields,
        },
      );
    }
  }

  /** Every transaction of the ticket, oldest first; RD_TICKET_NOT_FOUND when there is no such ticket. */
  getHistory(ticketId: number): Promise<RtTransaction[]> {
    return txns.ticketHistory(this.session, ticketNumber(ticketId));
  }

  /** Custom field changes of the ticket, oldest first (from its history). */
  getCustomFieldTransactions(ticketId: number): Promise<RtCfTransaction[]> {
    return txns.customFieldTransactions(this.session, ticketNumber(ticketId));
  }

  /** The value a ticket was created with: before any later change, the first change's old value. */
  async initialCustomFieldValue(ticketId: number, name: string): Promise<string | null> {
    const fieldId = await this.customFieldId(name);
    const first = (await this.getCustomFieldTransactions(ticketId)).find((c) => c.field === fieldId);
    if (first) return first.oldValue;
    return (await this.getTicket(ticketId)).customFields[name]?.[0] ?? null;
  }

  searchCreateTransactions(afterId: number): Promise<RtTransaction[]> {
    return txns.searchCreateTransactions(this.session, this.queue, afterId);
  }

  /** Id of the newest change of the custom field (or, without one, ticket creation) in the queue; 0 when none. */
  newestTransactionId(fieldId?: number): Promise<number> {
    return txns.newestTransactionId(this.session, this.queue, fieldId === undefined ? undefined : positive(fieldId, 'custom field id'));
  }

  /** Changes of one custom field on tickets of the queue, with transaction id > afterId, oldest first (reconciler). */
  searchCustomFieldTransactions(fieldId: number, afterId: number): Promise<RtCfTransaction[]> {
    return txns.searchCustomFieldTransactions(this.session, this.queue, positive(fieldId, 'custom field id'), afterId);
  }

  /** Id of a ticket custom field applied to the queue (cached; looked up again once when unknown). */
  async customFieldId(name: string): Promise<number> {
    let id = (await this.cfIds()).get(name);
    if (id === undefined) {
      this.cfIdsP = undefined;
      id = (await this.cfIds()).get(name);
    }
    if (id === undefined)
      throw new RdError('RD_HELPDESK_REFUSED', `custom field ${name} is not applied to queue ${this.queue} (or not visible)`);
    return id;
  }

  listAttachments(ticketId: number): Promise<RtAttachmentInfo[]> {
    return attachments.listAttachments(this.session, ticketNumber(ticketId));
  }

  findAttachment(ticketId: number, predicate: (a: RtAttachmentInfo) => boolean): Promise<RtAttachmentInfo | undefined> {
    return attachments.findAttachment(this.session, ticketNumber(ticketId), predicate);
  }

  downloadAttachment(attachmentId: number): Promise<Buffer> {
    return attachments.downloadAttachment(this.session, positive(attachmentId, 'attachment id'));
  }

  /** The newest .xml attachment, or RD_ATTACHMENT_MISSING. */
  getReleaseXml(ticketId: number): Promise<RtReleaseXml> {
    return attachments.getReleaseXml(this.session, ticketNumber(ticketId));
  }

  /**
   * An internal comment (text/plain) on the ticket, with attachments (REST2's Attachments, base64). `fields`
   * are set in the same write, after the comment, as RT's own update page does (one request and one token
   * check instead of two), then proven as setCustomFields proves them: a value RT's answer does not name is
   * set again and read back. A field to clear ("") is set after the comment in a write of its own (clearing
   * needs the ticket read first).
   */
  async comment(
    ticketId: number,
    text: string,
    attachments: Array<{ name: string; type: string; base64: string }> = [],
    fields: Record<string, string> = {},
  ): Promise<void> {
    const files = attachments.map((a) => ({ FileName: a.name, FileType: a.type, FileContent: a.base64 }));
    const together = Object.keys(fields).length > 0 && !Object.values(fields).includes('');
    const res = await this.session.request<unknown>({
      method: 'POST',
      path: `/ticket/${ticketNumber(ticketId)}/comment`,
      body: {
        Content: text,
        ContentType: 'text/plain',
        ...(files.length ? { Attachments: files } : {}),
        ...(together ? { CustomFields: fields } : {}),
      },
      notFound: () => notFound(ticketId),
    });
    const messages = Array.isArray(res.data) ? res.data.map(String) : [rtMessage(res.data)];
    if (!messages.some((m) => /comments added/i.test(m))) {
      throw new RdError('RD_HELPDESK_REFUSED', `RT did not add the comment to ticket ${ticketId}: ${messages.join('; ')}`, {
        ticketId,
        messages,
      });
    }
    if (!Object.keys(fields).length) return;
    if (together && namesEvery(messages, fields)) return;
    await this.setCustomFields(ticketId, fields);
  }

  /** True when a text part on the ticket (a comment, usually) contains `marker`: lets a retried write-back skip. */
  async hasComment(ticketId: number, marker: string): Promise<boolean> {
    return (await this.textParts(ticketId)).some((t) => t.includes(marker));
  }

  /** Every text/plain part on the ticket (bodies and comments), newest first. */
  async textParts(ticketId: number): Promise<string[]> {
    const parts = await collect<{ ContentType?: string; Content?: string }>(this.session, {
      path: `/ticket/${ticketNumber(ticketId)}/attachments`,
      params: { fields: 'ContentType,Content', orderby: 'id', order: 'DESC' },
    });
    return parts.filter((p) => p.ContentType === 'text/plain' && typeof p.Content === 'string').map((p) => p.Content!);
  }

  /** The text of the newest of these comment or reply transactions that has any (see rt-transactions.ts), or null. */
  noteText(ticketId: number, txnIds: number[]): Promise<string | null> {
    return txns.noteText(this.session, ticketNumber(ticketId), txnIds);
  }

  /**
   * Makes the RT group (user-defined, by name) an AdminCc watcher of the ticket, so it gets the
   * ticket's notifications; other watchers are kept. Idempotent, verified by re-reading the ticket.
   * RD_HELPDESK_REFUSED when the group is unknown (or not visible: SeeGroup) or RT refuses
   * (ModifyTicket); RD_TICKET_NOT_FOUND outside the queue. `knownGroupId` (from a recent read) saves its lookup.
   * See rt-watchers.ts.
   */
  async addAdminCcGroup(ticketId: number, groupName: string, knownGroupId?: number): Promise<void> {
    const id = ticketNumber(ticketId);
    if (typeof groupName !== 'string' || !groupName.trim())
      throw new TypeError(`group name must be a non-empty string, got ${JSON.stringify(groupName)}`);
    await watchers.addAdminCcGroup(this.session, id, groupName.trim(), { id: await this.queueId(), name: this.queue }, knownGroupId);
  }

  /** Every user-defined group the service may see, with its direct members (see rt-directory.ts). */
  readGroups(): Promise<DirectoryGroup[]> {
    return readGroups(this.session);
  }

  /** null when RT has no such user. */
  getUser(name: string): Promise<RtUser | null> {
    return getUser(this.session, name);
  }

  /** For tests and the demo. Returns the new ticket's id; custom fields given are verified. */
  async createTicket(t: NewTicket): Promise<number> {
    const res = await this.session.request<{ id?: string | number }>({
      method: 'POST',
      path: '/ticket',
      body: {
        Queue: t.queue ?? this.queue,
        Subject: t.subject,
        ...(t.requestor ? { Requestor: t.requestor } : {}),
        ...(t.content !== undefined || t.attachments?.length ? { Content: t.content ?? '', ContentType: 'text/plain' } : {}),
        ...(t.attachments?.length ? { Attachments: t.attachments.map(attachments.wireAttachment) } : {}),
        ...(t.customFields ? { CustomFields: t.customFields } : {}),
      },
    });
    const id = num(res.data?.id);
    if (res.status !== 201 || !Number.isSafeInteger(id)) {
      throw new RdError('RD_HELPDESK_REFUSED', `RT did not create the ticket: ${rtMessage(res.data)}`, { status: res.status });
    }
    if (t.customFields && (t.queue ?? this.queue) === this.queue) {
      const now = await this.getTicket(id);
      const wrong = Object.entries(t.customFields).filter(([name, v]) => !sameValues(now.customFields[name], v));
      if (wrong.length)
        throw new RdError('RD_HELPDESK_REFUSED', `ticket ${id} was created without ${wrong.map(([n]) => n).join(', ')}`, { ticketId: id });
    }
    return id;
  }

  private queueId(): Promise<number> {
    this.queueIdP ??= this.session
      .request<{ id: number | string }>({ method: 'GET', path: `/queue/${encodeURIComponent(this.queue)}` })
      .then((r) => num(r.data.id))
      .catch((e) => {
        this.queueIdP = undefined;
        throw e;
      });
    return this.queueIdP;
  }

  private cfIds(): Promise<Map<string, number>> {
    this.cfIdsP ??= this.queueId()
      .then((qid) =>
        collect<{ id: string; Name?: string }>(this.session, { path: `/queue/${qid}/customfields`, params: { fields: 'Name' } }),
      )
      .then((items) => new Map(items.map((cf) => [cf.Name ?? '', num(cf.id)])))
      .catch((e) => {
        this.cfIdsP = undefined;
        throw e;
      });
    return this.cfIdsP;
  }
}

/** RT's own words (RT::Record::_AddCustomFieldValue) for having stored `value` in a single-value field. */
/** Whether RT's answer names every value as stored: the proof of a write without reading the ticket back. */
const namesEvery = (messages: string[], values: Record<string, string>) =>
  Object.entries(values).every(([name, v]) => messages.some((m) => stored(m, name, v)));

function stored(message: string, name: string, value: string): boolean {
  if (value === '') return false;
  return message === `${name} ${value} added` || (message.startsWith(`${name} `) && message.endsWith(` changed to ${value}`));
}

function sameValues(have: string[] | undefined, want: string): boolean {
  if (have === undefined) return false;
  return want === '' ? have.length === 0 : have.length === 1 && have[0] === want;
}
