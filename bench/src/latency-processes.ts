// Row 2's two-process variant: two SDK clients, each its own node process (latency-peer.ts),
// deadlock on two shared resources taken in opposite order, the daemon a third process. This
// process only orchestrates and keeps the real (fake, FIFO) lock both peers use over IPC. The
// clock runs from the closing acquire's call (in peer 2) to the DeadlockError (in whichever
// peer the daemon picked), in CLOCK_MONOTONIC time (process.hrtime), which both peers share.
import { fork, type ChildProcess } from 'node:child_process';
import { LATENCY_PEER } from './paths.js';
import { FakeLockService } from './fake-lock.js';
import { sleep } from './stats.js';

export type PeerCommand =
  | { op: 'rep'; rep: number; first: string; second: string }
  | { op: 'go' }
  | { op: 'locked'; id: number }
  | { op: 'exit' };

export type PeerReply =
  | { op: 'ready' }
  | { op: 'holding'; rep: number }
  | { op: 'done'; rep: number; t0: number; deadlock: number | null }
  | { op: 'lock'; id: number; name: string }
  | { op: 'lock-abort'; id: number }
  | { op: 'unlock'; name: string }
  | { op: 'failed'; message: string };

export interface ProcessRep {
  ms: number;
  victim: 'first' | 'closer';
}

const REP_TIMEOUT_MS = 15_000;

class Peer {
  private readonly waiting: { match: (r: PeerReply) => boolean; resolve: (r: PeerReply) => void }[] = [];
  /** this peer's pending or granted requests on the real lock, by its id */
  private readonly requests = new Map<number, { name: string; abort: AbortController; granted: boolean }>();
  failure: string | null = null;

  constructor(
    readonly proc: ChildProcess,
    real: FakeLockService,
  ) {
    proc.on('message', (r: PeerReply) => {
      if (r.op === 'lock') {
        const abort = new AbortController();
        const req = { name: r.name, abort, granted: false };
        this.requests.set(r.id, req);
        real.acquire(r.name, abort.signal).then(
          () => {
            req.granted = true;
            this.send({ op: 'locked', id: r.id });
          },
          () => this.requests.delete(r.id),
        );
        return;
      }
      if (r.op === 'lock-abort') {
        const req = this.requests.get(r.id);
        this.requests.delete(r.id);
        if (req?.granted) real.release(req.name); // granted while the peer gave up: nobody holds it
        else req?.abort.abort(new Error('aborted by the peer'));
        return;
      }
      if (r.op === 'unlock') {
        for (const [id, req] of this.requests)
          if (req.name === r.name && req.granted) {
            this.requests.delete(id);
            break;
          }
        real.release(r.name);
        return;
      }
      if (r.op === 'failed') this.failure = r.message;
      const i = this.waiting.findIndex((w) => w.match(r));
      if (i >= 0) this.waiting.splice(i, 1)[0]?.resolve(r);
    });
  }

  send(c: PeerCommand): void {
    this.proc.send(c);
  }

  next<T extends PeerReply['op']>(op: T, rep?: number): Promise<Extract<PeerReply, { op: T }>> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`latency peer: no '${op}' within ${REP_TIMEOUT_MS} ms${this.failure ? `; it failed: ${this.failure}` : ''}`)), REP_TIMEOUT_MS);
      this.waiting.push({
        match: (r) => r.op === op && (rep === undefined || (r as { rep?: number }).rep === rep),
        resolve: (r) => {
          clearTimeout(t);
          resolve(r as Extract<PeerReply, { op: T }>);
        },
      });
    });
  }
}

export class PeerPair {
  private constructor(private readonly peers: [Peer, Peer]) {}

  static async start(url: string): Promise<PeerPair> {
    const real = new FakeLockService();
    const peers = ([1, 2] as const).map(
      (n) => new Peer(fork(LATENCY_PEER, [url, `bench-latency-proc-${n}`], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }), real),
    ) as [Peer, Peer];
    await Promise.all(peers.map((p) => p.next('ready')));
    return new PeerPair(peers);
  }

  /** Peer 1 takes A then B, peer 2 B then A; peer 2's second acquire closes the cycle `settleMs` after peer 1's. */
  async rep(i: number, settleMs: number): Promise<ProcessRep> {
    const [p1, p2] = this.peers;
    const names = { A: `latp:${i}:a`, B: `latp:${i}:b` };
    const h1 = p1.next('holding', i);
    p1.send({ op: 'rep', rep: i, first: names.A, second: names.B });
    await h1;
    const h2 = p2.next('holding', i);
    p2.send({ op: 'rep', rep: i, first: names.B, second: names.A });
    await h2;
    const d1 = p1.next('done', i);
    const d2 = p2.next('done', i);
    p1.send({ op: 'go' }); // peer 1 now blocks on B
    await sleep(settleMs);
    p2.send({ op: 'go' });
    const [r1, r2] = await Promise.all([d1, d2]);
    const at = r1.deadlock ?? r2.deadlock;
    if (at === null) throw new Error('two-process deadlock: both acquires succeeded; no deadlock was reported');
    return { ms: at - r2.t0, victim: r1.deadlock !== null ? 'first' : 'closer' };
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.peers.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.proc.exitCode !== null) return resolve();
            p.proc.once('exit', () => resolve());
            p.send({ op: 'exit' });
            setTimeout(() => p.proc.kill('SIGKILL'), 5_000).unref();
          }),
      ),
    );
  }
}
