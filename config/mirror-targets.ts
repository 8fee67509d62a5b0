import { z } from 'zod';
import type { TargetSpec } from '../services/mirror/target.ts';
import { s3Location, urlSegments, withoutSecret } from './s3-url.ts';

export const MIRROR_TARGETS_EXAMPLE =
  'eu=s3+https://KEY:SECRET@s3.example.org/umd-mirror;public=https://s3.example.org/umd-mirror, ' +
  'site=rsync://mirror.example.org/umd;delete';

/**
 * MIRROR_TARGETS: "NAME=URL[;delete][;public=URL][;region=R], …" where URL is
 *   s3+http(s)://ACCESS_KEY:SECRET@host[:port]/BUCKET[/PREFIX]   any S3-compatible store (path-style)
 *   rsync://[user[:password]@]host[:port]/MODULE[/PATH]          an rsync daemon
 *   ssh://[user@]host[:port]/PATH                                 rsync over ssh (key-based, BatchMode)
 * A message never shows a secret.
 */
export const mirrorTargets = z.string().transform((v, ctx) => {
  const out: TargetSpec[] = [];
  for (const entry of v
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const r = mirrorTarget(entry);
    if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
    else if (out.some((t) => t.name === r.name)) ctx.addIssue({ code: 'custom', message: `target ${r.name} is listed twice` });
    else out.push(r);
  }
  return out;
});

function mirrorTarget(entry: string): TargetSpec | string {
  const shown = withoutSecret(entry);
  const m = /^([a-z0-9][a-z0-9-]{0,63})=([^;\s]+)((?:;[^;]*)*)$/.exec(entry);
  if (!m) return `${shown} is not NAME=URL[;delete][;public=URL] (NAME in lower case), e.g. ${MIRROR_TARGETS_EXAMPLE}`;
  const [, name, rawUrl, rawOpts] = m as unknown as [string, string, string, string];
  let deleteOrphans = false;
  let publicUrl: string | undefined;
  let region = 'us-east-1';
  for (const opt of rawOpts.split(';').slice(1)) {
    const eq = opt.indexOf('=');
    const k = eq < 0 ? opt : opt.slice(0, eq);
    const val = eq < 0 ? undefined : opt.slice(eq + 1);
    if (opt === 'delete') deleteOrphans = true;
    else if (k === 'public' && val && /^https?:\/\/\S+$/.test(val)) publicUrl = val.replace(/\/+$/, '');
    else if (k === 'region' && val && /^[a-z0-9-]{1,40}$/.test(val)) region = val;
    else return `${shown}: unknown or malformed option "${opt.replace(/=.*/, '=…')}" (delete, public=http(s)://…, region=…)`;
  }
  let u: URL;
  try {
    u = new URL(rawUrl);
  } catch {
    return `${shown}: the URL is not a valid URL`;
  }
  const segments = urlSegments(u, shown);
  if (typeof segments === 'string') return segments;
  const base = { name, deleteOrphans, publicUrl };
  if (u.protocol === 's3+http:' || u.protocol === 's3+https:') {
    const at = s3Location(u, segments, region, shown);
    return typeof at === 'string' ? at : { ...base, kind: 's3', ...at };
  }
  if (u.protocol === 'rsync:' || u.protocol === 'ssh:') {
    if (!segments.length) return `${shown}: give the ${u.protocol === 'rsync:' ? 'module' : 'path'} after the host`;
    if (u.protocol === 'ssh:' && u.password) return `${shown}: rsync over ssh takes no password in the URL; use an ssh key`;
    return { ...base, kind: 'rsync', url: rawUrl.replace(/\/+$/, '') };
  }
  return `${shown}: the URL must start with s3+http://, s3+https://, rsync:// or ssh://`;
}

/** MIRROR_TARGETS as the service reads it, for tools and tests; throws the problems as one message. */
export function parseMirrorTargets(value: string): TargetSpec[] {
  const r = mirrorTargets.safeParse(value);
  if (!r.success) throw new Error(r.error.issues.map((i) => i.message).join('; '));
  return r.data;
}
