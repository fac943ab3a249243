// Traversal stamps. A walk of the graph (detect.ts) marks what it visits with a stamp of its own
// (`Owner.mark`, `Resource.mark`), so it needs no visited set: a node is visited when its mark is
// the walk's stamp.
//
// The stamps stay small integers (SMIs). A number past 2^31 - 1 is a double, and one double
// stored in `mark` would make the field a double field for every Owner and Resource (V8's field
// representations only widen): a 16-byte heap number each and an allocation per mark written,
// for the rest of the process's life. A daemon that searches 10,000 times a second passes 2^31
// in under three days. So at MAX_STAMP a graph's stamps start again from 1, after it has set
// every mark of its own to 0: an old mark can then never equal a new stamp, which would make a
// walk skip a node it has not visited (and miss a cycle). Each graph counts its own stamps, and
// the walks of one graph never overlap (its namespace runs one search at a time, and a search's
// walks run one after the other), so no walk is paused across its own graph's reset.

const MAX_STAMP = 2 ** 30;

export class Stamps {
  private last = 0;
  /** `reset`: every mark of the graph back to 0 (once per MAX_STAMP walks, in one pass) */
  constructor(private readonly reset: () => void) {}

  /** A stamp no node of the graph carries yet. */
  next(): number {
    if (this.last >= MAX_STAMP) {
      this.reset();
      this.last = 0;
    }
    return ++this.last;
  }

  /** Tests: the next stamps are `n + 1`, ... (to cross MAX_STAMP without 2^30 walks). */
  from(n: number): void {
    this.last = n;
  }
}

export const STAMP_LIMIT = MAX_STAMP;
