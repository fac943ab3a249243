// Traversal stamps. A walk of the graph (detect.ts) marks what it visits with a stamp of its own
// (`Owner.mark`, `Resource.mark`), so it needs no visited set: a node is visited when its mark is
// the walk's stamp.
//
// The stamps stay small integers (SMIs). A number past 2^31 - 1 is a double, and one double
// stored in `mark` would make the field a double field for every Owner and Resource (V8's field
// representations only widen): a 16-byte heap number each and an allocation per mark written,
// for the rest of the process's life. A daemon that searches 10,000 times a second passes 2^31
// in under three days. So at MAX_STAMP the stamps start again from 1, after every graph has set
// its marks back to 0: an old mark can then never equal a new stamp, which would make a walk
// skip a node it has not visited (and miss a cycle). A walk paused in its slices across that
// reset (another namespace's search wrapped it) only finds its marks cleared: it visits some
// nodes twice, and finds what it would have found.

/** What a graph gives for the reset: every node's mark to 0. */
export interface Marked {
  resetMarks(): void;
}

const MAX_STAMP = 2 ** 30;

let stamp = 0;
/** every live graph (weakly: a namespace removed lets its graph go) */
const graphs = new Set<WeakRef<Marked>>();

export function registerMarked(g: Marked): void {
  graphs.add(new WeakRef(g));
}

/** A stamp no node carries yet. */
export function nextStamp(): number {
  if (stamp >= MAX_STAMP) restart();
  return ++stamp;
}

function restart(): void {
  for (const ref of graphs) {
    const g = ref.deref();
    if (g === undefined) graphs.delete(ref);
    else g.resetMarks();
  }
  stamp = 0;
}

/** Tests: the next stamps are `n + 1`, ... (to cross MAX_STAMP without 2^30 walks). */
export function stampsFrom(n: number): void {
  stamp = n;
}

export const STAMP_LIMIT = MAX_STAMP;
