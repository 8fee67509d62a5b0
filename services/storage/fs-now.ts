import { fsync, statSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { promisify } from 'node:util';

/**
 * File system calls that take the kernel microseconds (stat, link, unlink, mkdir, open, close, a mode, a time)
 * are made on the event loop's thread, a batch at a time between its turns. Through libuv's pool each is a
 * round trip (a queued job, a thread woken, an answer posted back), which on two cores costs two to three
 * times the CPU of the call itself: 2,000 small files written, stored and linked took 0.45-0.6 s of CPU
 * this way against 1.1-1.7 s through the pool (bench/RESULTS.md), and a release of small packages makes
 * thousands of such calls. What waits for the disk (fsync) or moves many bytes (a copy, a big write) still
 * goes to the pool, where a slow disk stalls one job and not the thread every job shares.
 */

/** stat on this thread; undefined when nothing is there */
export const statNow = (path: string) => statSync(path, { throwIfNoEntry: false });

/** calls made on this thread between two turns of the event loop (a few milliseconds on a slow disk) */
const TURN = 64;

/** f on each item in order, awaiting each, with a turn of the event loop every TURN items */
export async function inTurns<T, R>(items: Iterable<T>, f: (item: T) => R | Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const item of items) {
    if (out.length > 0 && out.length % TURN === 0) await nextTurn();
    out.push(await f(item));
  }
  return out;
}

/** fsync in libuv's pool: it waits for the disk */
export const fsyncFd = promisify(fsync);
