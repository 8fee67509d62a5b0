/** What the workflow needs from a helpdesk; RtClient implements it against RT's REST2 API. */
export interface TicketInfo {
  id: number;
  queue: string;
  subject: string;
  /** requestor e-mail addresses, lower-case */
  requestors: string[];
  customFields: Record<string, string[]>;
}

export interface FieldChange {
  id: number;
  type: string;
  field: string;
  oldValue: string | null;
  newValue: string | null;
  creator: string;
  created: string;
}

/** A ticket's history as the workflow reads it: once per job, shared by everything the job asks of it. */
export interface TicketHistory {
  /** every RepoAction change, oldest first (the ticket's Create too, when it set the first value) */
  changes: FieldChange[];
  /** the comment and reply transactions the author of RepoAction change `txnId` wrote with it */
  notesOf(txnId: number): number[];
  /** the id of the newest transaction of the ticket the read saw (of any kind) */
  newest: number;
}

export interface Helpdesk {
  getTicket(id: number): Promise<TicketInfo>;
  /** The ticket, and its history read side by side with it (awaited only when the ticket is the service's). */
  readTicket(id: number): Promise<{ ticket: TicketInfo; history: Promise<TicketHistory> }>;
  getReleaseXml(ticketId: number): Promise<{ filename: string; content: Buffer; attachmentId: number }>;
  getUserEmail(name: string): Promise<string | undefined>;
  /** the groups the user is in; `fresh` reads RT now, else a copy a little older may answer */
  userGroups(name: string, opts?: { fresh?: boolean }): Promise<string[]>;
  setCustomFields(ticketId: number, fields: Record<string, string>): Promise<void>;
  /** an internal comment, with files attached to it when given, and custom fields set with it (after it, as RT's update page does) */
  comment(
    ticketId: number,
    text: string,
    attachments?: Array<{ name: string; type: string; base64: string }>,
    fields?: Record<string, string>,
  ): Promise<void>;
  /** makes the RT group an AdminCc (watcher) of the ticket, keeping the others; idempotent */
  addAdminCcGroup(ticketId: number, group: string): Promise<void>;
  /** the text of the newest of these comment or reply transactions that has any; null when none */
  noteText(ticketId: number, transactionIds: number[]): Promise<string | null>;
  /** true when a comment containing `marker` is already on the ticket (a retry must not post twice) */
  hasComment(ticketId: number, marker: string): Promise<boolean>;
  ping(): Promise<void>;
  /** whether RT takes this user's password: how people sign in to releasedesk (RT is the identity provider) */
  checkPassword(name: string, password: string): Promise<boolean>;
}
