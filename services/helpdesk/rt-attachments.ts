import { RdError } from '../errors.ts';
import { collect } from './rt-pages.ts';
import type { RtSession } from './rt-session.ts';
import { num, type NewAttachment, type RtAttachmentInfo, type RtReleaseXml, type WireAttachmentItem } from './rt-types.ts';

/**
 * Every MIME part of every transaction of the ticket the user may see: multipart containers and
 * message bodies have filename ''. Oldest first.
 */
export async function listAttachments(session: RtSession, ticketId: number): Promise<RtAttachmentInfo[]> {
  // (adding `Parent` to fields makes RT 5.0.3 answer 500)
  const items = await collect<WireAttachmentItem>(session, {
    path: `/ticket/${ticketId}/attachments`,
    params: { fields: 'Filename,ContentType,ContentLength,TransactionId', orderby: 'id', order: 'ASC' },
  });
  return items.map((a) => ({
    id: num(a.id),
    transactionId: num(a.TransactionId),
    filename: a.Filename ?? '',
    contentType: a.ContentType ?? '',
    contentLength: num(a.ContentLength ?? 0),
  }));
}

/** The newest attachment that matches, or undefined. */
export async function findAttachment(
  session: RtSession,
  ticketId: number,
  predicate: (a: RtAttachmentInfo) => boolean,
): Promise<RtAttachmentInfo | undefined> {
  const all = await listAttachments(session, ticketId);
  return all.filter(predicate).sort((a, b) => b.id - a.id)[0];
}

/**
 * The bytes of one attachment (REST2 sends them base64 in JSON; byte-identical to the upload).
 * RT 5.0.3 answers 500, not 404, for an attachment id that does not exist.
 */
export async function downloadAttachment(session: RtSession, attachmentId: number): Promise<Buffer> {
  const res = await session.request<{ Content?: string }>({ method: 'GET', path: `/attachment/${attachmentId}` });
  return Buffer.from(res.data?.Content ?? '', 'base64');
}

export const isXmlFile = (a: RtAttachmentInfo): boolean => /\.xml$/i.test(a.filename);

/** The newest attachment whose filename ends in .xml: the release metadata. */
export async function getReleaseXml(session: RtSession, ticketId: number): Promise<RtReleaseXml> {
  const found = await findAttachment(session, ticketId, isXmlFile);
  if (!found) {
    throw new RdError('RD_ATTACHMENT_MISSING', `ticket ${ticketId} has no attachment ending in .xml`, { ticketId });
  }
  return { filename: found.filename, content: await downloadAttachment(session, found.id), attachmentId: found.id };
}

export const wireAttachment = (a: NewAttachment) => ({
  FileName: a.filename,
  FileType: a.contentType,
  FileContent: a.content.toString('base64'),
});
