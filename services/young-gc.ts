import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * A stream of bytes through the process (a socket's reads, gunzip's output) allocates an ArrayBuffer per chunk
 * and little else. V8 counts those buffers' bytes against the old generation's limit, while the young
 * generation, where the dead ones could go for almost nothing, barely fills: so they were freed by full
 * mark-compacts, one per ~10 MB of bytes once the heap's limit sat just above its size (nodejs/node#1671).
 * A 1 GiB bundle cost 144 mark-compacts of the worker's 35 MB heap, 1.7 s of its main thread and 3.6 s of V8's
 * helper threads. A young collection after each MiB takes ~0.15 ms and leaves 3 (bench/RESULTS.md, session 18).
 */
export const YOUNG_GC_EVERY = 1 << 20;

type Collect = () => void;

let minor: Collect | undefined;

/** V8's gc() asked for a young collection; exposed for this process without --expose-gc, as jest-leak-detector does. */
function minorGc(): Collect {
  if (minor) return minor;
  type Gc = (o: { type: 'minor' }) => void;
  let gc = (globalThis as { gc?: Gc }).gc;
  if (typeof gc !== 'function') {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as Gc;
    // only the function taken here: no context created later gets a global gc
    setFlagsFromString('--no-expose-gc');
  }
  const collect = gc;
  minor = () => collect({ type: 'minor' });
  return minor;
}

/** Call with each chunk's length: a young collection runs after every `every` bytes. */
export function youngGcEvery(every = YOUNG_GC_EVERY, collect: Collect = minorGc()): (bytes: number) => void {
  let since = 0;
  return (bytes) => {
    since += bytes;
    if (since < every) return;
    since = 0;
    collect();
  };
}

/** `body` as a stream that runs a young collection after every MiB it gives: for a consumer that reads it (an upload). */
export function youngGcAsRead(body: AsyncIterable<Buffer>, every = YOUNG_GC_EVERY): Readable {
  const freeBuffers = youngGcEvery(every);
  return Readable.from(
    (async function* () {
      for await (const chunk of body) {
        yield chunk;
        freeBuffers(chunk.length);
      }
    })(),
    { objectMode: false },
  );
}
