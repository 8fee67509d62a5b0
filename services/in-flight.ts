/**
 * When a batch of work goes out (a DataLoader `batchScheduleFn`): at once while fewer than `max` batches are
 * in flight, else as soon as one comes back. Idle, an event waits for nothing; under load a batch is what
 * arrived while the previous ones were out (a group commit), so the batches grow with the load instead of
 * the round trips. `run` wraps the batch function so that the gate knows when one comes back.
 */
export interface InFlightGate {
  schedule: (dispatch: () => void) => void;
  run: <T>(work: () => Promise<T>) => Promise<T>;
}

export function inFlightGate(max: number): InFlightGate {
  let busy = 0; // dispatched or about to be
  const waiting: Array<() => void> = [];
  const start = (dispatch: () => void) => {
    busy++;
    // after this turn's I/O callbacks: the deliveries read in the same turn join the batch
    setImmediate(dispatch);
  };
  return {
    schedule: (dispatch) => (busy < max ? start(dispatch) : waiting.push(dispatch)),
    run: async (work) => {
      try {
        return await work();
      } finally {
        busy--;
        const next = waiting.shift();
        if (next) start(next);
      }
    },
  };
}
