import { RdError } from '../errors.ts';

/** What RtClient returns, and the few RT REST2 JSON shapes it reads. Ids are numbers here (RT sends strings). */

export interface RtTicket {
  id: number;
  /** queue name */
  queue: string;
  subject: string;
  /** RT lifecycle status: new, open, resolved, ... */
  status: string;
  /** requestor user names (for users RT created from mail: their address) */
  requestors: string[];
  /** every CF applied to the ticket, by name; `[]` when unset */
  customFields: Record<string, string[]>;
}

/** One change of a custom field on a ticket. Empty values are `null`, as in the webhook payload. */
export interface RtCfTransaction {
  id: number;
  ticketId: number;
  /** custom field id */
  field: number;
  oldValue: string | null;
  newValue: string | null;
  /** user name */
  creator: string;
  /** ISO 8601, UTC */
  created: string;
}

/** Any ticket transaction; CF fields are null when it is not a CustomField transaction. */
export interface RtTransaction extends Omit<RtCfTransaction, 'field'> {
  type: string;
  field: number | null;
}

export interface RtAttachmentInfo {
  id: number;
  transactionId: number;
  /** '' for message bodies and multipart containers */
  filename: string;
  contentType: string;
  contentLength: number;
}

export interface RtReleaseXml {
  filename: string;
  content: Buffer;
  attachmentId: number;
}

export interface RtUser {
  id: number;
  name: string;
  email: string;
}

export interface NewAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

export interface NewTicket {
  /** default: the client's queue */
  queue?: string;
  subject: string;
  /** user name or email address */
  requestor?: string;
  content?: string;
  attachments?: NewAttachment[];
  customFields?: Record<string, string>;
}

// ---- REST2 wire shapes (only what is read) ----

export interface Ref {
  id: string | number;
  type?: string;
}

export interface Page<T> {
  items: T[];
  count: number;
  page: number;
  per_page: number;
  /** null unless the user is SuperUser (RT filters rows by rights after LIMIT) */
  total: number | null;
  pages: number | null;
  next_page?: string;
}

export interface WireTicket {
  id: number | string;
  Subject: string;
  Status: string;
  Queue: Ref;
  Requestor?: Ref[];
  CustomFields?: { id: string; name: string; values: (string | null)[] }[];
}

export interface WireTransaction {
  id: string;
  Type?: string;
  Field?: string;
  ObjectId?: string;
  OldValue?: string | null;
  NewValue?: string | null;
  Creator?: Ref;
  Created?: string;
}

export interface WireAttachmentItem {
  id: string;
  Filename?: string;
  ContentType?: string;
  ContentLength?: string;
  TransactionId?: string;
}

export const num = (v: string | number | undefined | null): number => Number(v ?? NaN);
export const orNull = (v: string | null | undefined): string | null => (v === undefined || v === null || v === '' ? null : v);

export function toTransaction(t: WireTransaction, ticketId?: number): RtTransaction {
  const field = t.Field ? num(t.Field) : null;
  return {
    id: num(t.id),
    ticketId: ticketId ?? num(t.ObjectId),
    type: t.Type ?? '',
    field: Number.isFinite(field) ? field : null,
    oldValue: orNull(t.OldValue),
    newValue: orNull(t.NewValue),
    creator: String(t.Creator?.id ?? ''),
    created: t.Created ?? '',
  };
}

export function toCfTransaction(t: RtTransaction): RtCfTransaction {
  const { type: _type, field, ...rest } = t;
  return { ...rest, field: field ?? 0 };
}

export function ticketNumber(id: number): number {
  if (!Number.isSafeInteger(id) || id <= 0) throw notFound(id, `not a ticket number: ${id}`);
  return id;
}

export function positive(id: number, what: string): number {
  if (!Number.isSafeInteger(id) || id <= 0) throw new RangeError(`${what} must be a positive integer, got ${id}`);
  return id;
}

export const notFound = (id: number, message = `ticket ${id} not found`) => new RdError('RD_TICKET_NOT_FOUND', message, { ticketId: id });
