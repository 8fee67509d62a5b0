import { collect, sqlString } from './rt-pages.ts';
import type { RtSession } from './rt-session.ts';
import {
  notFound,
  num,
  toCfTransaction,
  toTransaction,
  type Page,
  type RtCfTransaction,
  type RtTransaction,
  type WireTransaction,
} from './rt-types.ts';

/**
 * Transactions, read with `fields=` (without it items are bare links; and a single
 * `GET /transaction/:id` has no OldValue/NewValue for CF changes, only references).
 */
const TXN_FIELDS = 'Type,Field,ObjectId,OldValue,NewValue,Creator,Created';

/** Every transaction of the ticket, oldest first. */
export async function ticketHistory(session: RtSession, ticketId: number): Promise<RtTransaction[]> {
  const items = await collect<WireTransaction>(session, { path: `/ticket/${ticketId}/history`, params: { fields: TXN_FIELDS } });
  // RT answers 200 with no items for a ticket that does not exist; every real one has its Create
  if (items.length === 0) throw notFound(ticketId);
  return items.map((t) => toTransaction(t, ticketId));
}

export async function customFieldTransactions(session: RtSession, ticketId: number): Promise<RtCfTransaction[]> {
  return (await ticketHistory(session, ticketId)).filter((t) => t.type === 'CustomField').map(toCfTransaction);
}

const cfQuery = (queue: string, fieldId: number) =>
  `Type = 'CustomField' AND Field = ${fieldId} AND ObjectType = 'RT::Ticket' AND TicketQueue = ${sqlString(queue)}`;
const createQuery = (queue: string) => `Type = 'Create' AND ObjectType = 'RT::Ticket' AND TicketQueue = ${sqlString(queue)}`;
const after = (id: number) => ` AND id > ${Math.max(0, Math.trunc(id) || 0)}`;

/** TransactionSQL across the queue's tickets, by id ascending (stable pages while new ones arrive). */
export async function searchCustomFieldTransactions(
  session: RtSession,
  queue: string,
  fieldId: number,
  afterId: number,
): Promise<RtCfTransaction[]> {
  const items = await collect<WireTransaction>(session, {
    path: '/transactions',
    params: { query: cfQuery(queue, fieldId) + after(afterId), fields: TXN_FIELDS, orderby: 'id', order: 'ASC' },
  });
  return items.map((t) => toCfTransaction(toTransaction(t)));
}

/** Ticket creations in the queue after `afterId` (a ticket created with RepoAction set has no CF transaction). */
export async function searchCreateTransactions(session: RtSession, queue: string, afterId: number): Promise<RtTransaction[]> {
  const items = await collect<WireTransaction>(session, {
    path: '/transactions',
    params: { query: createQuery(queue) + after(afterId), fields: TXN_FIELDS, orderby: 'id', order: 'ASC' },
  });
  return items.map((t) => toTransaction(t));
}

/**
 * Id of the newest custom field change (`fieldId`) or, without one, ticket creation in the queue; 0 when
 * there is none. One request whatever RT's age (a page, not one row: RT drops rows a user may not see after
 * its LIMIT).
 */
export async function newestTransactionId(session: RtSession, queue: string, fieldId?: number): Promise<number> {
  const query = fieldId === undefined ? createQuery(queue) : cfQuery(queue, fieldId);
  const res = await session.request<Page<WireTransaction>>({
    method: 'GET',
    path: '/transactions',
    params: { query, orderby: 'id', order: 'DESC', per_page: 100, page: 1 },
  });
  return Math.max(0, ...(res.data?.items ?? []).map((t) => num(t.id)).filter(Number.isSafeInteger));
}

const MAX_NOTE_CHARS = 4000;

/** The text of the newest of these comment or reply transactions of the ticket that has any; null when none. */
export async function noteText(session: RtSession, ticketId: number, txnIds: number[]): Promise<string | null> {
  if (txnIds.length === 0) return null;
  const notes = new Set(txnIds);
  const parts = await collect<{ TransactionId?: string; ContentType?: string; Content?: string }>(session, {
    path: `/ticket/${ticketId}/attachments`,
    params: { fields: 'TransactionId,ContentType,Content', orderby: 'id', order: 'DESC' },
  });
  const text = parts
    .find((p) => notes.has(Number(p.TransactionId)) && p.ContentType === 'text/plain' && p.Content?.trim())
    ?.Content?.trim();
  if (!text) return null;
  return text.length > MAX_NOTE_CHARS ? `${text.slice(0, MAX_NOTE_CHARS)}…` : text;
}
