// Hazards: deadlocks waiting for load.
//
// Lock-order inversions. Like Linux lockdep, we reason about lock CLASSES, not
// instances at a moment: a class is a shared resource's name (the same for
// every client) or `<service>:<name>` for a process-local one (the same for
// every instance of a service). Each `order` event says "someone asked for
// class B while holding class A" (its newest hold: longer chains are implied
// by their links). Those facts form the acquired-before graph. A new edge
// A → B closes a cycle iff B already reaches A; then the cycle is a hazard:
// two (or more) places take the same locks in opposite orders, and the day
// they run at the same time they deadlock. The search runs only on a NEW
// edge (each pair is reported once per connection, and repeats only bump a
// counter), over a graph of classes, which is small.
//
// Nested pool checkout. A semaphore class taken while already holding it —
// the same task checking out a second connection from its pool — deadlocks
// as soon as as many tasks do it at once as the pool has units. It is
// reported the first time it happens, at concurrency 1.
//
// rwlock hazards, as lockdep's read-lock rules. An owner holding an rwlock
// shared that asks for it exclusive is upgrading: two owners doing it at once
// deadlock (each waits for the other's read to go), so it is reported the
// first time, at concurrency 1 (rwlock-upgrade). An owner holding a writer-fair
// (FIFO) rwlock shared that asks for shared again queues behind any writer
// that arrived in between, and that writer waits for the first read: a
// deadlock once the timing lines up (recursive-read). A reentrant rwlock
// grants the second read at once, so it is no hazard there.
//
// Lock classes. A resource declared with `class` (every `account:<id>` mutex
// as class `account`) is its class in the order graph, as lockdep keys locks
// by class. Two instances of one class nested (transfer(a, b) takes account a
// then account b) are an edge from the class to itself: another owner that
// nests two of them the other way round (transfer(b, a)) deadlocks with it,
// and no exact pair needs to be seen twice, so it is reported the first time
// (same-class-nesting), naming the class and the instances seen. Edges
// between different classes find inversions between classes as before.
//
// Hazards are deduplicated by the set of classes on their cycle; every edge
// keeps the places (service, instance, owner, call site) it was seen at.
import { createHash } from 'node:crypto';
import type { Hazard, HazardSite, LockMode } from '@deadlockd/proto';
import type { ClientState, Resource } from './model.js';
import type { LockOrderLimits } from './types.js';

export const DEFAULT_LOCK_ORDER_LIMITS: LockOrderLimits = { maxLockClasses: 100_000, maxHazards: 10_000, maxSitesPerEdge: 8 };

interface Site {
  service: string;
  instance: string;
  owner: string | undefined;
  stack: string | undefined;
  count: number;
  firstSeen: number;
  lastSeen: number;
}

interface Edge {
  from: string;
  to: string;
  sites: Map<string, Site>;
}

interface HazardState {
  id: string;
  kind: Hazard['kind'];
  classes: string[];
  edges: Edge[];
  /** extra facts for the text (pool capacity) */
  note: string;
}

export class LockOrder {
  /** class → (class → edge) */
  private readonly out = new Map<string, Map<string, Edge>>();
  private readonly hazards = new Map<string, HazardState>();
  /** rwlock self-edges by class and kind (upgrade, recursive read) */
  private readonly rwEdges = new Map<string, Edge>();
  /** same-class nestings seen, by class (for the text) */
  private readonly instances = new Map<string, Set<string>>();
  ignoredClasses = 0;

  constructor(
    private readonly limits: LockOrderLimits,
    private readonly now: () => number,
  ) {}

  static classOf(r: Resource, c: ClientState): string {
    const name = r.lockClass ?? r.name;
    return r.global ? name : `${c.info.service}:${name}`;
  }

  /** Records one order fact; returns the hazards it created or touched (to announce). */
  record(
    c: ClientState,
    held: Resource,
    acquired: Resource,
    owner: string | undefined,
    stack: string | undefined,
    modes: { heldMode?: LockMode | undefined; mode?: LockMode | undefined } = {},
  ): Hazard[] {
    const from = LockOrder.classOf(held, c);
    const to = LockOrder.classOf(acquired, c);
    // the same rwlock again: an upgrade or a recursive read, a hazard of its own (the edge is per mode pair)
    const rw = held === acquired && acquired.kind === 'rwlock' && modes.heldMode === 'shared' && modes.mode !== undefined ? modes.mode : undefined;
    if (rw !== undefined) return this.rwlockHazard(c, acquired, from, rw, owner, stack);
    const at = this.now();
    const known = this.out.get(from)?.get(to);
    const edge = known ?? this.addEdge(from, to);
    if (!edge) return [];
    const siteKey = `${c.info.service}\u0000${c.info.instance}`;
    const site = edge.sites.get(siteKey);
    if (site) {
      site.count++;
      site.lastSeen = at;
      if (!site.stack && stack) site.stack = stack;
    } else if (edge.sites.size < this.limits.maxSitesPerEdge) {
      edge.sites.set(siteKey, { service: c.info.service, instance: c.info.instance, owner, stack, count: 1, firstSeen: at, lastSeen: at });
    }

    if (held === acquired) {
      if (acquired.kind !== 'semaphore') return []; // a mutex re-lock is a deadlock, reported as one
      return [this.toHazard(this.upsert('nested-pool-checkout', [from], [edge], `capacity ${acquired.capacity}`))];
    }
    if (from === to) {
      // two instances of one lock class nested: note which, for the text
      const seen = (this.instances.get(from) ?? this.instances.set(from, new Set()).get(from)) as Set<string>;
      if (seen.size < this.limits.maxSitesPerEdge) seen.add(`${held.name} then ${acquired.name}`);
      const h = this.upsert('same-class-nesting', [from], [edge], [...seen].join('; '));
      h.note = [...seen].join('; ');
      return known && site ? [] : [this.toHazard(h)];
    }
    if (known) {
      // A repeat: the hazards through this edge changed only in counters; new sites are worth announcing.
      return site ? [] : this.hazardsThrough(edge).map((h) => this.toHazard(h));
    }
    const path = this.path(to, from);
    if (!path) return [];
    const cycle = [edge, ...path];
    return [this.toHazard(this.upsert('lock-order-inversion', cycle.map((e) => e.from), cycle, ''))];
  }

  private rwlockHazard(c: ClientState, r: Resource, cls: string, mode: LockMode, owner: string | undefined, stack: string | undefined): Hazard[] {
    if (mode === 'shared' && (r.reentrant || !r.fifo)) return []; // granted at once / no writer preference
    const kind = mode === 'exclusive' ? 'rwlock-upgrade' : 'recursive-read';
    // one edge per (class, mode pair), kept apart from the order graph's edges
    const key = `${cls}\u0000${kind}`;
    let edge = this.rwEdges.get(key);
    if (!edge) this.rwEdges.set(key, (edge = { from: cls, to: cls, sites: new Map() }));
    const at = this.now();
    const siteKey = `${c.info.service}\u0000${c.info.instance}`;
    const site = edge.sites.get(siteKey);
    if (site) {
      site.count++;
      site.lastSeen = at;
      return [];
    }
    if (edge.sites.size < this.limits.maxSitesPerEdge)
      edge.sites.set(siteKey, { service: c.info.service, instance: c.info.instance, owner, stack, count: 1, firstSeen: at, lastSeen: at });
    return [this.toHazard(this.upsert(kind, [cls], [edge], ''))];
  }

  list(): Hazard[] {
    return [...this.hazards.values()].reverse().map((h) => this.toHazard(h));
  }

  get(id: string): Hazard | undefined {
    const h = this.hazards.get(id);
    return h && this.toHazard(h);
  }

  get size(): number {
    return this.hazards.size;
  }

  private addEdge(from: string, to: string): Edge | undefined {
    for (const k of [from, to])
      if (!this.out.has(k)) {
        if (this.out.size >= this.limits.maxLockClasses) {
          this.ignoredClasses++;
          return undefined;
        }
        this.out.set(k, new Map());
      }
    const e: Edge = { from, to, sites: new Map() };
    (this.out.get(from) as Map<string, Edge>).set(to, e);
    return e;
  }

  /** Breadth-first path of edges from `src` to `dst`, if any (the shortest: the clearest report). */
  private path(src: string, dst: string): Edge[] | undefined {
    const via = new Map<string, Edge | null>([[src, null]]);
    const queue = [src];
    for (let i = 0; i < queue.length; i++) {
      const n = queue[i] as string;
      if (n === dst) {
        const edges: Edge[] = [];
        for (let e = via.get(n); e; e = via.get(e.from)) edges.unshift(e);
        return edges;
      }
      for (const [m, e] of this.out.get(n) ?? []) {
        if (via.has(m)) continue;
        via.set(m, e);
        queue.push(m);
      }
    }
    return undefined;
  }

  private upsert(kind: Hazard['kind'], classes: string[], edges: Edge[], note: string): HazardState {
    // Same cycle whatever class it is entered at: rotate to the smallest class.
    const start = classes.indexOf([...classes].sort()[0] as string);
    const rotated = [...classes.slice(start), ...classes.slice(0, start)];
    const id = patternId(ID_PREFIX[kind], rotated);
    let h = this.hazards.get(id);
    if (!h) {
      h = { id, kind, classes: rotated, edges: [...edges.slice(start), ...edges.slice(0, start)], note };
      this.hazards.set(id, h);
      while (this.hazards.size > this.limits.maxHazards) this.hazards.delete(this.hazards.keys().next().value as string);
    }
    return h;
  }

  private hazardsThrough(edge: Edge): HazardState[] {
    return [...this.hazards.values()].filter((h) => h.edges.includes(edge));
  }

  private toHazard(h: HazardState): Hazard {
    const sites: HazardSite[] = h.edges.flatMap((e) =>
      [...e.sites.values()].map((s) => ({
        from: e.from,
        to: e.to,
        service: s.service,
        instance: s.instance,
        ...(s.owner ? { owner: s.owner } : {}),
        ...(s.stack ? { stack: s.stack } : {}),
        count: s.count,
        firstSeen: s.firstSeen,
        lastSeen: s.lastSeen,
      })),
    );
    const services = new Set(sites.map((s) => s.service));
    const firstSeen = Math.min(...sites.map((s) => s.firstSeen));
    const lastSeen = Math.max(...sites.map((s) => s.lastSeen));
    const hazard: Hazard = {
      id: h.id,
      kind: h.kind,
      classes: h.classes,
      sites,
      crossService: services.size > 1,
      firstSeen,
      lastSeen,
      text: '',
    };
    hazard.text = renderHazardText(hazard, h.note);
    return hazard;
  }
}

const ID_PREFIX: Record<Hazard['kind'], string> = {
  'lock-order-inversion': 'LO',
  'nested-pool-checkout': 'NP',
  'rwlock-upgrade': 'UP',
  'recursive-read': 'RR',
  'same-class-nesting': 'SC',
};

/**
 * patternId's latest answers, oldest first. A deadlock or hazard that recurs (the usual case:
 * the same bug again) skips the hash, which took 85 µs (p50; 112 µs p90) on a process idle for a
 * few milliseconds, on the path from the closing wait to the abort. Bounded: RECENT_IDS keys of
 * at most RECENT_ID_KEY_CHARS characters (≤ 2 MiB); a bigger pattern is hashed every time.
 */
const recentIds = new Map<string, string>();
const RECENT_IDS = 256;
const RECENT_ID_KEY_CHARS = 4096;

/**
 * A short id that is the same wherever the same pattern is seen: a hazard's id (its cycle of
 * classes) and a deadlock's signature (signature.ts) are both this hash of their parts.
 */
export function patternId(prefix: string, parts: readonly string[]): string {
  const text = parts.join('\u0000');
  const key = `${prefix}\u0001${text}`;
  const known = recentIds.get(key);
  if (known !== undefined) return known;
  const id = `${prefix}-${createHash('sha256').update(text).digest('hex').slice(0, 10)}`;
  if (key.length <= RECENT_ID_KEY_CHARS) {
    if (recentIds.size >= RECENT_IDS) recentIds.delete(recentIds.keys().next().value as string);
    recentIds.set(key, id);
  }
  return id;
}


/** The first frames of a captured stack that are the application's (not the SDK's own). */
export function applicationFrames(stack: string | undefined): string[] {
  if (!stack) return [];
  return stack
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('at ') && !l.includes('@deadlockd/client') && !l.includes('client-sdk/node/dist'))
    .slice(0, 3);
}

export function renderHazardText(h: Hazard, note = ''): string {
  const when = (t: number) => new Date(t).toISOString();
  const lines: string[] = [];
  if (h.kind === 'nested-pool-checkout') {
    const pool = h.classes[0];
    lines.push(`POTENTIAL DEADLOCK (nested pool checkout) ${h.id}`);
    for (const s of h.sites) {
      lines.push(`  ${s.service} (${s.instance})${s.owner ? ` task '${s.owner}'` : ''} asked for ${pool} while already holding it${note ? ` (${note})` : ''} — seen ${s.count}x, first ${when(s.firstSeen)}, last ${when(s.lastSeen)}`);
      for (const f of applicationFrames(s.stack)) lines.push(`      ${f}`);
    }
    lines.push('how it hangs: when as many tasks do this at once as the pool has units, every unit is held and every task waits for a second one.');
    lines.push('fix: pass the unit (connection) you already hold down to the helper instead of checking out another.');
    return lines.join('\n');
  }
  if (h.kind === 'rwlock-upgrade' || h.kind === 'recursive-read') {
    const lock = h.classes[0];
    const upgrade = h.kind === 'rwlock-upgrade';
    lines.push(`POTENTIAL DEADLOCK (${upgrade ? 'rwlock upgrade' : 'recursive read'}) ${h.id}`);
    for (const s of h.sites) {
      lines.push(`  ${s.service} (${s.instance})${s.owner ? ` task '${s.owner}'` : ''} asked for ${lock} ${upgrade ? 'exclusive' : 'shared again'} while holding it shared — seen ${s.count}x, first ${when(s.firstSeen)}, last ${when(s.lastSeen)}`);
      for (const f of applicationFrames(s.stack)) lines.push(`      ${f}`);
    }
    lines.push(
      upgrade
        ? 'how it hangs: two owners that do this at once each wait for the other to give up its read lock.'
        : 'how it hangs: a writer that queues between the two reads waits for the first one, and the second read queues behind the writer.',
    );
    lines.push(upgrade ? 'fix: take it exclusive from the start, or release the read lock before asking for the write lock.' : 'fix: pass the read lock you hold down instead of taking it again (or declare the rwlock reentrant).');
    return lines.join('\n');
  }
  if (h.kind === 'same-class-nesting') {
    const cls = h.classes[0];
    lines.push(`POTENTIAL DEADLOCK (two locks of class ${cls} nested) ${h.id}`);
    if (note) lines.push(`  seen: ${note}`);
    for (const s of h.sites) {
      lines.push(`  ${s.service} (${s.instance})${s.owner ? ` task '${s.owner}'` : ''} took a ${cls} lock while holding another — seen ${s.count}x, first ${when(s.firstSeen)}, last ${when(s.lastSeen)}`);
      for (const f of applicationFrames(s.stack)) lines.push(`      ${f}`);
    }
    lines.push(`how it hangs: another owner that nests two ${cls} locks the other way round (the same pair, opposite order) waits for this one, and this one for it.`);
    lines.push(`fix: take ${cls} locks in one global order (e.g. by id), or one at a time.`);
    return lines.join('\n');
  }
  lines.push(`POTENTIAL DEADLOCK (lock-order inversion) ${h.id}${h.crossService ? `, across services ${[...new Set(h.sites.map((s) => s.service))].join(', ')}` : ''}`);
  lines.push(`cycle: ${[...h.classes, h.classes[0]].join(' -> ')}`);
  for (const s of h.sites) {
    lines.push(`  ${s.service} (${s.instance})${s.owner ? ` task '${s.owner}'` : ''} took ${s.to} while holding ${s.from} — seen ${s.count}x, first ${when(s.firstSeen)}, last ${when(s.lastSeen)}`);
    for (const f of applicationFrames(s.stack)) lines.push(`      ${f}`);
  }
  lines.push('how it hangs: when these run at the same time, each holds its first lock and waits for the next one on the cycle.');
  lines.push('fix: take these locks in one order everywhere (or release the first before taking the next).');
  return lines.join('\n');
}
