import { createHash } from 'node:crypto';
import { parseReleaseXml, type ReleaseMetadata } from '../../services/metadata/release-xml.ts';
import type { Step } from '../engine/step.ts';
import type { Helpdesk } from '../../services/helpdesk/port.ts';

type ReleaseXml = Awaited<ReturnType<Helpdesk['getReleaseXml']>>;

export interface MetadataOutput {
  attachmentId: number;
  filename: string;
  xmlSha256: string;
  metadata: ReleaseMetadata;
  /** the file as attached, base64: an export carries it byte for byte (absent in checkpoints of older versions) */
  xmlBase64?: string;
}

/** The release.xml attached to the ticket, parsed and validated once, here at the edge. */
export const fetchMetadata: Step<MetadataOutput, ReleaseXml> = {
  id: 'fetch-metadata',
  // two RT round trips (the attachment list, then the file) that need nothing the job's read of the ticket gives
  early: (rt, ticketId) => rt.getReleaseXml(ticketId),
  async run(ctx, early) {
    const xml = await (early ?? ctx.deps.rt.getReleaseXml(ctx.ticketId));
    const metadata = parseReleaseXml(xml.content, xml.filename);
    await ctx.progress({ step: 'fetch-metadata', product: metadata.productShortName, packages: metadata.packages.length });
    return {
      attachmentId: xml.attachmentId,
      filename: xml.filename,
      metadata,
      xmlSha256: createHash('sha256').update(xml.content).digest('hex'),
      xmlBase64: xml.content.toString('base64'),
    };
  },
};
