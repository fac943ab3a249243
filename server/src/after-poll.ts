// Scheduling the next slice of long work (a search, a graph read, a big
// response body) so that the event loop reads its sockets first.
//
// Node runs setImmediate callbacks in the check phase, right after the poll
// phase of the same loop iteration. An immediate queued while the loop is in
// its poll phase (a client's frame, an HTTP request) therefore runs before any
// socket is read again: "one slice now, the rest in setImmediate" ran two
// slices back to back, and a ping waited for both. An immediate queued from
// within an immediate runs in the next iteration, after its poll. afterPoll
// knows which of the two it is in (its own callbacks are the check phase it
// knows of; anywhere else counts as not) and hops once more when it must.

let inCheckPhase = false;

function runHere(fn: () => void): void {
  inCheckPhase = true;
  try {
    fn();
  } finally {
    inCheckPhase = false;
  }
}

/** queued outside the check phase: this runs in the coming check phase and queues fn for the next iteration's */
function hop(fn: () => void): void {
  setImmediate(runHere, fn);
}

/** Runs `fn` once the event loop has polled for I/O (sockets are served before it). */
export function afterPoll(fn: () => void): void {
  if (inCheckPhase) setImmediate(runHere, fn);
  else setImmediate(hop, fn);
}

/** afterPoll as a promise */
export function afterPollTurn(): Promise<void> {
  return new Promise((resolve) => afterPoll(resolve));
}
