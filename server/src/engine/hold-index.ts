// The engine's two hold indexes with their types: the holds of one owner, found
// by resource, and the holders of one resource, found by owner (the same holds,
// indexed from either end: HoldRecords, and owners that are their own first
// hold). small-index.ts has the representation and why; model.ts uses it
// directly (importing this file would be a circle).
import type { Hold, Owner, Resource } from './model.js';
import * as small from './small-index.js';

export type HoldIndex = small.SmallIndex<Hold, Owner | Resource>;

/** Which end of the hold the index is keyed by. */
export type KeyOf = (h: Hold) => Owner | Resource;
export const byResource: KeyOf = small.byResource;
export const byOwner: KeyOf = small.byOwner;

export { findHold, forEachHold, holdCount, withHold, withoutHold, holdsIn } from './small-index.js';
