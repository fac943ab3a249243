// The naive baseline the engine is compared with: a graphology wait-for graph
// of owners (edge waiter → holder, mutexes only) and, after EVERY event,
// graphology-components' stronglyConnectedComponents over the whole graph.
// This is the obvious design DESIGN.md §4 rules out ("never on the whole graph
// per event"); the bench measures by how much.
import { MultiDirectedGraph } from 'graphology';
import { stronglyConnectedComponents } from 'graphology-components';
import type { ClientEvent } from '@deadlockd/proto';

interface PendingWait {
  owner: string;
  res: string;
}

export class NaiveDetector {
  readonly graph = new MultiDirectedGraph({ allowSelfLoops: true });
  private readonly holderOf = new Map<string, string>();
  private readonly global = new Set<string>();
  private readonly waits = new Map<string, PendingWait>();
  private readonly waitersOf = new Map<string, Set<string>>();

  /** Applies one event, then searches the whole graph: true when some cycle exists. */
  applyAndDetect(client: string, e: ClientEvent): boolean {
    this.apply(client, e);
    return this.detect();
  }

  detect(): boolean {
    if (this.graph.selfLoopCount > 0) return true;
    for (const comp of stronglyConnectedComponents(this.graph)) if (comp.length > 1) return true;
    return false;
  }

  /** Graph update only (used to build fixtures; the timed path is applyAndDetect). */
  apply(client: string, e: ClientEvent): void {
    const g = this.graph;
    const ownerKey = (o: string) => `${client}/${o}`;
    const resKey = (r: string | number): string => {
      if (typeof r === 'number') throw new Error('naive baseline takes resources by name, not by handle');
      return this.global.has(r) ? `g:${r}` : `${client}:${r}`;
    };
    const waitKey = (w: string) => `${client}/${w}`;
    switch (e.type) {
      case 'owner':
        g.mergeNode(ownerKey(e.owner));
        return;
      case 'resource':
        if (e.kind !== 'mutex') throw new Error('naive baseline models mutexes only');
        if (e.scope === 'global') this.global.add(e.resource);
        return;
      case 'hold':
        return this.setHolder(resKey(e.resource), ownerKey(e.owner));
      case 'release': {
        const r = resKey(e.resource);
        const h = this.holderOf.get(r);
        if (h === undefined) return;
        for (const w of this.waitersOf.get(r) ?? []) if (g.hasEdge(w)) g.dropEdge(w);
        this.holderOf.delete(r);
        return;
      }
      case 'wait': {
        if (e.resource === undefined) throw new Error('naive baseline has no task waits');
        const o = ownerKey(e.owner);
        const r = resKey(e.resource);
        const k = waitKey(e.waitId);
        g.mergeNode(o);
        this.waits.set(k, { owner: o, res: r });
        let ws = this.waitersOf.get(r);
        if (!ws) this.waitersOf.set(r, (ws = new Set()));
        ws.add(k);
        const h = this.holderOf.get(r);
        if (h !== undefined) g.addDirectedEdgeWithKey(k, o, h);
        return;
      }
      case 'cancel':
      case 'grant': {
        const k = waitKey(e.waitId);
        const w = this.waits.get(k);
        if (!w) return;
        if (g.hasEdge(k)) g.dropEdge(k);
        this.waits.delete(k);
        this.waitersOf.get(w.res)?.delete(k);
        if (e.type === 'grant') this.setHolder(w.res, w.owner);
        return;
      }
      case 'end':
        throw new Error('naive baseline does not model task ends');
    }
  }

  private setHolder(r: string, o: string): void {
    const g = this.graph;
    g.mergeNode(o);
    this.holderOf.set(r, o);
    for (const w of this.waitersOf.get(r) ?? []) {
      const waiter = this.waits.get(w)?.owner as string;
      if (!g.hasEdge(w)) g.addDirectedEdgeWithKey(w, waiter, o);
    }
  }
}
