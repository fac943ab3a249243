// The daemon's side of the layout thread (layout-worker.ts): one worker for
// all feeds, started with the first viewer, asked for one layout at a time per
// feed. If it dies (a bug, out of memory), pending layouts fail (that frame is
// skipped and logged by the feed) and the next one starts a new worker.
import { Worker } from 'node:worker_threads';
import type { LayoutInput, Point } from './layout.js';

export type LayoutRequest =
  | { type: 'layout'; id: number; feed: number; nodes: string[]; links: string[] }
  | { type: 'forget'; feed: number };

export interface LayoutReply {
  id: number;
  /** x, y of each requested node, in the request's order */
  xy: Float64Array;
}

interface Pending {
  nodes: readonly string[];
  resolve: (positions: Map<string, Point>) => void;
  reject: (err: Error) => void;
}

export class LayoutThread {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  /** Positions for `input`, from the feed's own StableLayout in the worker. */
  place(feed: number, input: LayoutInput): Promise<Map<string, Point>> {
    if (this.closed) return Promise.reject(new Error('layout thread closed'));
    const links: string[] = [];
    for (const [a, b] of input.links) links.push(a, b);
    const id = this.nextId++;
    const request: LayoutRequest = { type: 'layout', id, feed, nodes: [...input.nodes], links };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { nodes: input.nodes, resolve, reject });
      this.start().postMessage(request);
    });
  }

  /**
   * Starts the worker now if it is not running: `new Worker` costs the event loop several ms,
   * and the first viewer's frame (a capture of the graph) should not come in the same turn.
   * Returns whether it started one.
   */
  warm(): boolean {
    if (this.closed || this.worker) return false;
    this.start();
    return true;
  }

  /** The feed is gone: its layout state can go too. */
  forget(feed: number): void {
    this.worker?.postMessage({ type: 'forget', feed } satisfies LayoutRequest);
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    this.fail(new Error('layout thread closed'));
    if (w) await w.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./layout-worker.js', import.meta.url));
    // an idle layout thread never keeps the daemon's process alive
    w.unref();
    w.on('message', (m: LayoutReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      const positions = new Map<string, Point>();
      p.nodes.forEach((key, i) => positions.set(key, { x: m.xy[2 * i] as number, y: m.xy[2 * i + 1] as number }));
      p.resolve(positions);
    });
    const lost = (err: Error) => {
      if (this.worker === w) this.worker = null;
      this.fail(err);
    };
    w.on('error', lost);
    w.on('exit', (code) => lost(new Error(`layout thread exited (${code})`)));
    this.worker = w;
    return w;
  }

  private fail(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
