import type { Stage } from './repo-ref.ts';

/** What a live repository shows: a product's releases, or a distribution's (every arch of an APT suite). */
export type LiveScope = { stage: Stage; product: string } | { stage: Stage; kind: 'yum' | 'apt'; platform: string; arch?: string };

/**
 * What a live repository's path below PUBLIC_URL names (repos/<stage>/<product>, repos/dist/yum/<platform>/
 * <arch>/<stage>, repos/dist/apt/<platform>/dists/<stage>), and where its indexes' pool/… paths resolve;
 * null for any other path.
 */
export function parseLivePath(path: string): { scope: LiveScope; archive: string } | null {
  let m = /^repos\/dist\/yum\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path);
  if (m) return { scope: { stage: m[3] as Stage, kind: 'yum', platform: m[1]!, arch: m[2]! }, archive: path };
  m = /^repos\/dist\/apt\/([^/]+)\/dists\/([^/]+)$/.exec(path);
  if (m) return { scope: { stage: m[2] as Stage, kind: 'apt', platform: m[1]! }, archive: `repos/dist/apt/${m[1]}` };
  m = /^repos\/([^/]+)\/([^/]+)$/.exec(path);
  if (!m || m[1] === 'dist') return null;
  return { scope: { stage: m[1] as Stage, product: m[2]! }, archive: path };
}
