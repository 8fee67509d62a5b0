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

export interface Helpdesk {
  getTicket(id: number): Promise<TicketInfo>;
  /** the ticket's transactions that matter to the workflow: Create and CustomField changes */
  getTransaction(ticketId: number, transactionId: number): Promise<FieldChange | undefined>;
  /** Every RepoAction change of the ticket, oldest first (its Create too, when it set the first value). */
  actionHistory(ticketId: number): Promise<FieldChange[]>;
  getReleaseXml(ticketId: number): Promise<{ filename: string; content: Buffer; attachmentId: number }>;
  getUserEmail(name: string): Promise<string | undefined>;
  userGroups(name: string): Promise<string[]>;
  setCustomFields(ticketId: number, fields: Record<string, string>): Promise<void>;
  comment(ticketId: number, text: string): Promise<void>;
  /** makes the RT group an AdminCc (watcher) of the ticket, keeping the others; idempotent */
  addAdminCcGroup(ticketId: number, group: string): Promise<void>;
  /**
   * What the author of a RepoAction change wrote with it: the newest comment or reply they made on the
   * ticket since the previous RepoAction change (RT's update page records it just before). null when none.
   */
  actionNote(ticketId: number, transactionId: number): Promise<string | null>;
  /** true when a comment containing `marker` is already on the ticket (a retry must not post twice) */
  hasComment(ticketId: number, marker: string): Promise<boolean>;
  ping(): Promise<void>;
}
