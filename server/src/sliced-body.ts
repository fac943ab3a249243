// A big response body produced in slices, so that writing it never holds the
// daemon's only thread for long: after each slice the generator waits until
// the event loop has run its I/O (other clients' frames, pings, timers:
// after-poll.ts) before the next slice is rendered. Served as a stream
// (`Readable.from`), so the body also waits for a slow reader instead of
// piling up in memory ahead of it.

import { afterPollTurn } from './after-poll.js';

/** A list of `count` items, the i-th rendered by `renderAt(i)`, `sep` between items. */
export interface Section {
  count: number;
  renderAt: (i: number) => string;
  sep: string;
}

export interface SliceLimits {
  /** a slice ends once it has taken this long (checked every few items) */
  budgetMs: number;
  /** and at most this many items, so even a fast machine yields on a big body */
  maxItems: number;
}

/** ~4 ms of rendering per turn: far below the 20 ms the daemon allows itself per stall. */
const DEFAULT_SLICE: SliceLimits = { budgetMs: 4, maxItems: 500 };

const CHECK_EVERY = 16;

/** Yields the body: plain strings as they are, each section in slices with a poll of the event loop between them. */
export async function* slicedBody(parts: ReadonlyArray<string | Section>, limits: SliceLimits = DEFAULT_SLICE): AsyncGenerator<string> {
  let out: string[] = [];
  for (const part of parts) {
    if (typeof part === 'string') {
      out.push(part);
      continue;
    }
    const { count, renderAt, sep } = part;
    let started = performance.now();
    let inSlice = 0;
    for (let i = 0; i < count; i++) {
      if (i > 0) out.push(sep);
      out.push(renderAt(i));
      inSlice++;
      if (inSlice >= limits.maxItems || (inSlice % CHECK_EVERY === 0 && performance.now() - started >= limits.budgetMs)) {
        yield out.join('');
        out = [];
        await afterPollTurn();
        started = performance.now();
        inSlice = 0;
      }
    }
  }
  if (out.length > 0) yield out.join('');
}
