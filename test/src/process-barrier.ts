// A barrier across child processes, coordinated by the test process over the
// children's IPC channels. Children call barrier(key) (service-kit.ts); when
// `parties` children have reached the same key, all of them are released.
// If a child exits while others wait, the barrier is broken for everyone so
// the survivors fail fast instead of hanging until the test timeout.
import type { ChildProcess } from 'node:child_process';

export type BarrierMessage =
  | { type: 'barrier'; key: string }
  | { type: 'barrier-release'; key: string }
  | { type: 'barrier-broken'; key: string; reason: string };

export class ProcessBarrier {
  private readonly members = new Set<ChildProcess>();
  private readonly arrived = new Map<string, Set<ChildProcess>>();
  private brokenReason: string | undefined;

  constructor(private readonly parties: number) {}

  attach(proc: ChildProcess): void {
    this.members.add(proc);
    proc.on('message', (msg: unknown) => {
      if (isBarrierArrival(msg)) this.arrive(proc, msg.key);
    });
    proc.once('exit', (code, signal) => {
      this.members.delete(proc);
      if (code !== 0) this.breakAll(`a member exited (code ${code}, signal ${signal})`);
    });
  }

  private arrive(proc: ChildProcess, key: string): void {
    if (this.brokenReason !== undefined) {
      send(proc, { type: 'barrier-broken', key, reason: this.brokenReason });
      return;
    }
    let set = this.arrived.get(key);
    if (!set) this.arrived.set(key, (set = new Set()));
    set.add(proc);
    if (set.size < this.parties) return;
    this.arrived.delete(key);
    for (const p of set) send(p, { type: 'barrier-release', key });
  }

  private breakAll(reason: string): void {
    this.brokenReason = reason;
    for (const [key, set] of this.arrived) {
      for (const p of set) send(p, { type: 'barrier-broken', key, reason });
    }
    this.arrived.clear();
  }
}

function isBarrierArrival(msg: unknown): msg is { type: 'barrier'; key: string } {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'barrier' && typeof (msg as { key?: unknown }).key === 'string';
}

function send(proc: ChildProcess, msg: BarrierMessage): void {
  if (proc.connected) proc.send(msg);
}
