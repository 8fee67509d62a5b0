import { createHash } from 'node:crypto';
import { parseReleaseXml, type ReleaseMetadata } from '../../services/metadata/release-xml.ts';
import type { Step } from '../engine/step.ts';

export interface MetadataOutput {
  attachmentId: number;
  filename: string;
  xmlSha256: string;
  metadata: ReleaseMetadata;
  /** the file as attached, base64: an export carries it byte for byte (absent in checkpoints of older versions) */
  xmlBase64?: string;
}

/** The release.xml attached to the ticket, parsed and validated once, here at the edge. */
export const fetchMetadata: Step<MetadataOutput> = {
  id: 'fetch-metadata',
  async run(ctx) {
    const xml = await ctx.deps.rt.getReleaseXml(ctx.ticketId);
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
