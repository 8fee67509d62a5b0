/**
 * Whether a process of this host still runs: what names scratch left by a pid (an action's work dir, a gpg
 * home) need before it is removed. EPERM: it runs, as another user.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
