// The /v1/live feed of one namespace and view: every viewer's socket gets the
// current snapshot on connect and again after each change, at most
// 1000/TICK_MS times a second however busy the daemon is.
//
// Why polling and not events: the hub has no change events, and adding them
// would put dashboard code on the detection path. Instead, while someone is
// watching, a cheap fingerprint (graph counters, resolver counters, history
// statuses, events received) is compared every tick; only when it moved is the
// snapshot rebuilt, and only when the rebuilt snapshot differs is it sent.
//
// A rebuild must not hold the daemon's only thread, which runs detection for
// every namespace. So it is split: a capture of one instant, in slices while
// the namespace holds its changes (snapshot.ts captureLive: at most
// --max-drawn-nodes nodes, a few ms at the cap), the layout (ForceAtlas2, the
// expensive part: tens to hundreds of ms at the cap) on the layout thread
// (layout-thread.ts), then the frame assembled and sent in slices of its own.
// After the capture events keep flowing; the frame shows the graph as it was
// at the capture. Rebuilds are also rationed:
// none while no viewer could take a frame (all of them still have unsent
// data), and after a rebuild that took t ms (capture to frame, layout
// included), none for REBUILD_RATIO × t ms, so one namespace's dashboard takes
// at most ~1/(1+ratio) of the loop and of the layout thread's core.
import type { FastifyBaseLogger } from 'fastify';
import { WebSocket } from 'ws';
import { afterPollTurn } from '../after-poll.js';
import type { Hub } from '../hub.js';
import type { Metrics } from '../metrics.js';
import type { LayoutThread } from './layout-thread.js';
import { captureLive, layoutInput, liveBodyJson, type LiveBody, type LiveFrame, type LiveView } from './snapshot.js';

/** Poll period: at most 5 frames a second per feed. */
const TICK_MS = 200;
/** A viewer whose socket has this much unsent data skips frames until it drains (it then gets the latest). */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** After a rebuild of t ms, the next waits REBUILD_RATIO × t ms (at most MAX_REBUILD_GAP_MS: the page must not go stale). */
const REBUILD_RATIO = 9;
const MAX_REBUILD_GAP_MS = 5_000;

interface Viewer {
  socket: WebSocket;
  sentSeq: number;
}

let feeds = 0;

export class LiveFeed {
  private readonly viewers = new Set<Viewer>();
  /** this feed's layout state in the layout thread */
  private readonly id = ++feeds;
  private timer: NodeJS.Timeout | null = null;
  private fingerprint = '';
  private body = '';
  private frame = '';
  private seq = 0;
  private busy: Promise<void> | null = null;
  /** no rebuild before this time (performance.now()) */
  private nextRebuildAt = 0;
  /** rebuilds done, for tests and the log */
  rebuilds = 0;
  private stopped = false;

  constructor(
    private readonly hub: Hub,
    private readonly metrics: Metrics,
    readonly namespace: string,
    readonly view: LiveView,
    private readonly log: FastifyBaseLogger,
    private readonly layouts: LayoutThread,
    private readonly maxDrawnNodes?: number,
  ) {}

  /** Adds a viewer and sends it the current snapshot. */
  async join(socket: WebSocket): Promise<void> {
    const viewer: Viewer = { socket, sentSeq: 0 };
    this.viewers.add(viewer);
    socket.on('close', () => {
      this.viewers.delete(viewer);
      if (this.viewers.size === 0) this.stopTimer();
    });
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), TICK_MS);
      this.timer.unref();
    }
    // the layout thread's start and the first capture in two turns of the loop, sockets read between
    if (this.layouts.warm()) await afterPollTurn();
    await this.tick();
  }

  /** One poll: rebuild if the fingerprint moved, then bring every viewer up to date. */
  tick(): Promise<void> {
    // ticks never overlap: a tick that finds one running waits for it
    this.busy ??= this.refresh().finally(() => {
      this.busy = null;
    });
    return this.busy;
  }

  /** some viewer is open and has room for a frame */
  private someoneCanReceive(): boolean {
    for (const v of this.viewers) if (v.socket.readyState === WebSocket.OPEN && v.socket.bufferedAmount <= MAX_BUFFERED_BYTES) return true;
    return false;
  }

  private async refresh(): Promise<void> {
    try {
      const fresh = this.frame === '';
      // rationed: the current frame still goes to viewers that have not had it (a new one, say)
      const mayRebuild = fresh || (this.someoneCanReceive() && performance.now() >= this.nextRebuildAt);
      const fp = mayRebuild ? await this.currentFingerprint() : this.fingerprint;
      if (fp !== this.fingerprint || fresh) {
        this.fingerprint = fp;
        const started = performance.now();
        const captured = await captureLive(this.hub.namespace(this.namespace), this.view, this.maxDrawnNodes);
        const positions = await this.layouts.place(this.id, layoutInput(captured));
        const body = await liveBodyJson(captured, positions);
        const took = performance.now() - started;
        this.nextRebuildAt = performance.now() + Math.min(took * REBUILD_RATIO, MAX_REBUILD_GAP_MS);
        this.rebuilds++;
        if (body !== this.body) {
          this.body = body;
          this.seq++;
          // splice the envelope in front of the body instead of re-serializing it
          const head: Omit<LiveFrame, keyof LiveBody> = { type: 'snapshot', seq: this.seq, sentAt: Date.now() };
          this.frame = `${JSON.stringify(head).slice(0, -1)},${body.slice(1)}`;
        }
      }
    } catch (err) {
      // at shutdown the layout thread goes first: a rebuild cut short then is no failure
      if (!this.stopped) this.log.error({ err, namespace: this.namespace }, 'dashboard snapshot failed');
      return;
    }
    for (const v of this.viewers) {
      if (v.sentSeq === this.seq || v.socket.readyState !== WebSocket.OPEN) continue;
      if (v.socket.bufferedAmount > MAX_BUFFERED_BYTES) continue;
      v.socket.send(this.frame);
      v.sentSeq = this.seq;
    }
  }

  private async currentFingerprint(): Promise<string> {
    const ns = this.hub.namespace(this.namespace); // first: it creates the namespace stats() then lists
    const stats = this.hub.stats();
    const history = ns.history.list().map((e) => `${e.id}:${e.status}`).join(',');
    // events that change who holds what without changing any count (a release
    // and a grant in one batch) still move this counter
    const events = (await this.metrics.eventsReceived.get()).values[0]?.value ?? 0;
    return JSON.stringify([stats.clients, stats.connectedClients, stats.namespaces[this.namespace], events, history]);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Daemon shutdown: stop polling (the sockets are closed by the websocket plugin). */
  stop(): void {
    this.stopped = true;
    this.stopTimer();
    this.viewers.clear();
    this.layouts.forget(this.id);
  }
}
