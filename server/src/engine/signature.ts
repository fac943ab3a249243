// A deadlock's signature: what stays the same when the same bug deadlocks
// again. Hazards are deduplicated by the lock classes on their cycle
// (hazards.ts); a deadlock is grouped the same way, by the shape of its
// wait-for edges in class terms: for each edge, the waiter's service and
// call site, the class of the resource it waits for (and the mode), and the
// holder's service. Ids (clients, owners, waits, deadlocks) and times are
// left out, and the edges form a set, so a recurrence with other accounts,
// other processes or one more philosopher at the table has the same
// signature. The signature is a hash of that set (patternId, as hazards'
// ids); the pattern is the same set as lines a person reads.
import { applicationFrames, LockOrder, patternId } from './hazards.js';
import type { FoundDeadlock } from './detect.js';
import type { Resource, Wait } from './model.js';
import { STEP, type Steps } from './steps.js';

type BlockEdge = FoundDeadlock['edges'][number];

/** lines of the readable pattern kept (the hash covers every edge) */
const MAX_PATTERN_LINES = 8;

/**
 * Parts of a resource name that look like ids (a UUID, a long hex string, a number): masked
 * when the resource declared no lock class, so `account:17` and `account:42` are one class.
 */
const ID_LIKE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b|\d+/gi;

/** A resource's class for grouping: its declared `class`, else its name with ids masked (`<service>:` before a local one). */
function classFor(r: Resource, w: Wait): string {
  if (r.taskOf) return `end of task '${r.taskOf.name.replace(ID_LIKE, '#')}'`;
  const cls = LockOrder.classOf(r, w.owner.client);
  return r.lockClass === undefined ? cls.replace(ID_LIKE, '#') : cls;
}

/** The first application frame, without its column (the same line of code in another build keeps its line). */
function callSite(stack: string | undefined): string | undefined {
  const first = applicationFrames(stack).find((f) => !f.startsWith('at node:') && !f.includes('(node:'));
  return first?.replace(/^at /, '').replace(/:\d+(\)?)$/, '$1');
}

function edgeLine(e: BlockEdge, sites: Map<Wait, string | undefined>): string {
  const w = e.wait;
  if (!sites.has(w)) sites.set(w, callSite(w.stack));
  const site = sites.get(w);
  const mode = w.mode ? ` (${w.mode})` : '';
  const how = e.kind === 'hard' ? 'held by' : 'queued behind';
  return `${e.from.client.info.service}${site ? ` at ${site}` : ''} waits for ${classFor(w.resource, w)}${mode}, ${how} ${e.to.client.info.service}`;
}

export interface DeadlockSignature {
  /** `DS-` and 10 hex digits (a deadlock's id starts `DL-`) */
  signature: string;
  /** the edges in class terms, sorted; at most MAX_PATTERN_LINES and a last line counting the rest */
  pattern: string[];
}

/** A deadlock's signature, pausing every STEP edges (a 30,000-member ring has 30,000 lines to describe) */
export function* deadlockSignatureSteps(f: FoundDeadlock): Steps<DeadlockSignature> {
  // Owners only queued on the cycle come and go with timing: the edges between members decide.
  const queued = new Set(f.queued);
  const inner = f.edges.filter((e) => !queued.has(e.from) && !queued.has(e.to));
  const sites = new Map<Wait, string | undefined>();
  const distinct = new Set<string>();
  let work = 0;
  for (const e of inner.length > 0 ? inner : f.edges) {
    distinct.add(edgeLine(e, sites));
    if (++work % STEP === 0) yield;
  }
  const lines = [...distinct].sort();
  const pattern = lines.length > MAX_PATTERN_LINES ? [...lines.slice(0, MAX_PATTERN_LINES - 1), `… and ${lines.length - MAX_PATTERN_LINES + 1} more`] : lines;
  return { signature: patternId('DS', lines), pattern };
}
