import { evrCmp, parseEvr } from './versions.ts';

/**
 * Does a set of packages satisfy its own requirements, given what a repository already provides?
 * Pure. Requirement and provide strings are each format's native syntax, as package headers give them
 * (rpm `name >= 1.0-1`; deb `name (>= 1.0-1) | other`).
 */
export type Kind = 'rpm' | 'deb';
export interface Capability {
  name: string;
  op?: string;
  evr?: string;
}
export interface Needs {
  package: string;
  requires: string[];
}
export interface Unmet {
  package: string;
  requirement: string;
}
export interface Resolution {
  unmet: Unmet[];
  unchecked: Unmet[];
}

const RPM_OPS = new Set(['<', '<=', '=', '>=', '>']);
const DEB_OPS: Record<string, string> = { '<<': '<', '<=': '<=', '=': '=', '>=': '>=', '>>': '>', '<': '<=', '>': '>=' };

export function parseCapability(s: string, kind: Kind): Capability {
  const t = s.trim();
  if (kind === 'rpm') {
    const m = /^(\S+)\s+(<=|>=|<|>|=)\s+(\S+)$/.exec(t);
    return m && RPM_OPS.has(m[2]!) ? { name: m[1]!, op: m[2]!, evr: m[3]! } : { name: t };
  }
  const m = /^([^\s(]+)\s*(?:\(\s*(<<|<=|>=|>>|=|<|>)\s*([^)\s]+)\s*\))?$/.exec(t);
  if (!m) return { name: t };
  const name = m[1]!.replace(/:(any|native)$/, '');
  return m[2] ? { name, op: DEB_OPS[m[2]]!, evr: m[3]! } : { name };
}

function satisfies(provide: Capability, need: Capability, kind: Kind): boolean {
  if (provide.name !== need.name) return false;
  if (!need.op || !provide.evr) return true; // an unversioned provide satisfies any version (rpm and dpkg agree)
  const c = evrCmp(parseEvr(provide.evr, kind), parseEvr(need.evr!, kind), kind);
  switch (need.op) {
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '=':
      return c === 0;
    case '>=':
      return c >= 0;
    default:
      return c > 0;
  }
}

/**
 * Requirements rpm cannot state as capabilities we know: files, rich dependencies. A file someone
 * provides (a base repository's primary.xml lists the usual ones, BASE_PROVIDES may name it) is met;
 * otherwise these are reported, not judged.
 */
const uncheckable = (req: string, kind: Kind) => kind === 'rpm' && (req.startsWith('/') || req.startsWith('('));

const alternatives = (req: string, kind: Kind) => (kind === 'deb' ? req.split('|') : [req]);

/** The capability names these requirements ask about, every alternative of a Debian dependency included. */
export function requiredNames(needs: Needs[], kind: Kind): Set<string> {
  const names = new Set<string>();
  for (const n of needs)
    for (const req of n.requires) for (const alt of alternatives(req, kind)) names.add(parseCapability(alt, kind).name);
  return names;
}

export function resolve(needs: Needs[], provides: string[], kind: Kind): Resolution {
  const byName = new Map<string, Capability[]>();
  for (const p of provides) {
    const c = parseCapability(p, kind);
    byName.set(c.name, [...(byName.get(c.name) ?? []), c]);
  }
  const ok = (alt: string) => {
    const need = parseCapability(alt, kind);
    return (byName.get(need.name) ?? []).some((p) => satisfies(p, need, kind));
  };
  const unmet: Unmet[] = [];
  const unchecked: Unmet[] = [];
  for (const n of needs) {
    for (const req of n.requires) {
      if (alternatives(req, kind).some(ok)) continue;
      if (uncheckable(req, kind)) unchecked.push({ package: n.package, requirement: req });
      else unmet.push({ package: n.package, requirement: req.trim() });
    }
  }
  return { unmet, unchecked };
}
