// Framing: the reporter's events as `events` and `snapshot` frames that fit the daemon's limits
// (events per frame, bytes per frame, snapshot parts). One writer per connection: frame `seq`
// numbers start at 1 on each. What to send, and when, is the reporter's business (reporter.ts).
import type { ClientEvent } from '@deadlockd/proto';

/** Where frames go: the open, welcomed connection. */
export interface FrameSink {
  sendText(text: string): void;
  /** bytes queued in the socket and not yet written */
  bufferedAmount(): number;
  readonly maxEventsPerFrame: number;
  readonly maxFrameBytes: number;
  /** the daemon takes snapshots in `more` parts up to this many events; undefined: it does not */
  readonly maxSnapshotEvents?: number | undefined;
}

/** What left the process so far, over every connection (diagnostics, the bench). */
export interface SentCounts {
  events: number;
  frames: number;
}

/**
 * Events per frame at most, whatever more the daemon takes: the daemon cannot pause inside one
 * frame's JSON.parse and checks, and a 10,000-event frame (its default limit) held its event
 * loop ~10-20 ms for every client; frames of 2,000 cost it 2-4 ms each, and the frames' own
 * overhead at that size is noise. Not for a snapshot to a daemon that takes no snapshot parts
 * (no maxSnapshotEvents): there the frames after the first are applied as they come, so the
 * fewer of them the better.
 */
export const EVENTS_PER_FRAME = 2_000;

export class FrameWriter {
  private seq = 1;

  constructor(
    private readonly sink: FrameSink,
    /** bumped for every frame sent */
    private readonly sent: SentCounts,
  ) {}

  /** The daemon's limit on one snapshot (all its parts); undefined: it takes no parts. */
  get maxSnapshotEvents(): number | undefined {
    return this.sink.maxSnapshotEvents;
  }

  /** bytes queued in the socket and not yet written */
  bufferedAmount(): number {
    return this.sink.bufferedAmount();
  }

  /** A control frame (abort_result, confirm_result), as it is. */
  sendControl(frame: object): void {
    this.sink.sendText(JSON.stringify(frame));
  }

  /** `events` in as many frames as the limits need, in order. */
  send(type: 'events' | 'snapshot', events: ClientEvent[]): void {
    const sink = this.sink;
    const unparted = type === 'snapshot' && sink.maxSnapshotEvents === undefined;
    const max = Math.max(1, unparted ? sink.maxEventsPerFrame : Math.min(sink.maxEventsPerFrame, EVENTS_PER_FRAME));
    if (events.length <= max) {
      this.sendPart(type, events, false);
      return;
    }
    // A daemon that does not announce maxSnapshotEvents takes no `more` parts: the rest of a
    // snapshot goes as `events` (applied as they come, as such daemons always did).
    const parts = type === 'snapshot' && !unparted;
    for (let i = 0; i < events.length; i += max) {
      const partType = i === 0 || parts ? type : 'events';
      this.sendPart(partType, events.slice(i, i + max), parts && i + max < events.length);
    }
  }

  /**
   * One frame; halved until it fits maxFrameBytes (the daemon closes the connection on an
   * oversized frame). `more`: a snapshot part that is not the last one.
   */
  private sendPart(type: 'events' | 'snapshot', events: ClientEvent[], more: boolean): void {
    const sink = this.sink;
    const frame = type === 'snapshot' && more ? { type, seq: this.seq, events, more } : { type, seq: this.seq, events };
    const text = JSON.stringify(frame);
    if (events.length > 1 && text.length * 3 > sink.maxFrameBytes && Buffer.byteLength(text) > sink.maxFrameBytes) {
      const half = events.length >> 1;
      const parts = type === 'snapshot' && sink.maxSnapshotEvents !== undefined;
      this.sendPart(type, events.slice(0, half), parts);
      this.sendPart(parts ? type : 'events', events.slice(half), more);
      return;
    }
    this.seq++;
    this.sent.frames++;
    this.sent.events += events.length;
    sink.sendText(text);
  }
}
