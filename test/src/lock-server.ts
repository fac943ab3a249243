// A real cross-process lock service for the "across services" scenarios: the
// stand-in for a distributed lock (Redis, a DB advisory lock). Neither client
// process can see the other's locks; only the deadlockd daemon sees the cycle.
//
// TCP, one command per line, 127.0.0.1:
//   LOCK <name> <reqId>   FIFO per name; replies `GRANTED <reqId>` when granted
//   CANCEL <reqId>        withdraws a pending request: `CANCELLED <reqId>`,
//                         or nothing if it was already granted
//   UNLOCK <name>         releases the lock if this connection holds it
//   GET <key>             → `VALUE <key> <integer>` (0 if never set)
//   SET <key> <integer>   → `STORED <key>`
// GET/SET are a tiny shared ledger so tests can check that money moved under
// these locks is conserved across processes. A connection that closes
// releases its locks and drops its pending requests. Bad input → `ERR <text>`.
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

interface Request {
  conn: Socket;
  reqId: string;
}

interface LockState {
  holder: Request | undefined;
  queue: Request[];
}

export interface LockServer {
  port: number;
  close(): Promise<void>;
}

export async function startLockServer(port = 0): Promise<LockServer> {
  const locks = new Map<string, LockState>();
  const values = new Map<string, number>();
  const sockets = new Set<Socket>();

  const write = (conn: Socket, line: string) => {
    if (!conn.destroyed) conn.write(`${line}\n`);
  };

  const grantNext = (name: string, state: LockState) => {
    const next = state.queue.shift();
    state.holder = next;
    if (next) write(next.conn, `GRANTED ${next.reqId}`);
    else locks.delete(name);
  };

  const lock = (conn: Socket, name: string, reqId: string) => {
    let state = locks.get(name);
    if (!state) locks.set(name, (state = { holder: undefined, queue: [] }));
    const req = { conn, reqId };
    if (state.holder === undefined) {
      state.holder = req;
      write(conn, `GRANTED ${reqId}`);
    } else {
      state.queue.push(req);
    }
  };

  const cancel = (conn: Socket, reqId: string) => {
    for (const state of locks.values()) {
      const i = state.queue.findIndex((r) => r.conn === conn && r.reqId === reqId);
      if (i >= 0) {
        state.queue.splice(i, 1);
        write(conn, `CANCELLED ${reqId}`);
        return;
      }
    }
    // already granted (or unknown): nothing, as the protocol says
  };

  const unlock = (conn: Socket, name: string) => {
    const state = locks.get(name);
    if (!state || state.holder?.conn !== conn) {
      write(conn, `ERR not held: ${name}`);
      return;
    }
    grantNext(name, state);
  };

  const dropConnection = (conn: Socket) => {
    sockets.delete(conn);
    for (const [name, state] of [...locks]) {
      state.queue = state.queue.filter((r) => r.conn !== conn);
      if (state.holder?.conn === conn) grantNext(name, state);
      else if (state.holder === undefined && state.queue.length === 0) locks.delete(name);
    }
  };

  const handleLine = (conn: Socket, line: string) => {
    const [cmd, a, b, ...rest] = line.trim().split(/\s+/);
    if (rest.length > 0) return write(conn, `ERR too many arguments: ${line}`);
    switch (cmd) {
      case 'LOCK':
        if (!a || !b) return write(conn, 'ERR usage: LOCK <name> <reqId>');
        return lock(conn, a, b);
      case 'CANCEL':
        if (!a || b) return write(conn, 'ERR usage: CANCEL <reqId>');
        return cancel(conn, a);
      case 'UNLOCK':
        if (!a || b) return write(conn, 'ERR usage: UNLOCK <name>');
        return unlock(conn, a);
      case 'GET':
        if (!a || b) return write(conn, 'ERR usage: GET <key>');
        return write(conn, `VALUE ${a} ${values.get(a) ?? 0}`);
      case 'SET': {
        const n = Number(b);
        if (!a || b === undefined || !Number.isSafeInteger(n)) return write(conn, 'ERR usage: SET <key> <integer>');
        values.set(a, n);
        return write(conn, `STORED ${a}`);
      }
      case '':
      case undefined:
        return;
      default:
        return write(conn, `ERR unknown command: ${cmd}`);
    }
  };

  const server: Server = createServer((conn) => {
    sockets.add(conn);
    conn.setEncoding('utf8');
    conn.setNoDelay(true);
    let buf = '';
    conn.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        handleLine(conn, line);
      }
    });
    conn.on('error', () => {}); // a peer that vanishes is handled by 'close'
    conn.on('close', () => dropConnection(conn));
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('lock server: no TCP address');
  return {
    port: addr.port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface PendingLock {
  name: string;
  resolve: () => void;
  reject: (e: unknown) => void;
  /** set when the caller gave up: a late GRANTED is unlocked at once */
  cancelled: boolean;
}

/** Client of the lock server. One connection = one lock holder identity. */
export class LockClient {
  private nextReq = 1;
  private readonly pending = new Map<string, PendingLock>();
  private readonly valueWaiters = new Map<string, Array<(n: number) => void>>();
  private readonly storeWaiters = new Map<string, Array<() => void>>();
  private buf = '';
  private closedError: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.onLine(line);
      }
    });
    socket.on('error', (e) => {
      this.closedError ??= e;
    });
    socket.on('close', () => {
      this.closedError ??= new Error('lock server connection closed');
      // nobody will ever answer these now
      for (const p of this.pending.values()) if (!p.cancelled) p.reject(this.closedError);
      this.pending.clear();
    });
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<LockClient> {
    const socket = createConnection({ port, host });
    await once(socket, 'connect');
    return new LockClient(socket);
  }

  /**
   * Resolves once the lock is granted. If `signal` aborts first, the pending
   * request is withdrawn (CANCEL) and this rejects with the signal's reason.
   */
  acquire(name: string, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.closedError) return Promise.reject(this.closedError);
    const reqId = `r${this.nextReq++}`;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const p = this.pending.get(reqId);
        if (!p || p.cancelled) return;
        p.cancelled = true;
        this.send(`CANCEL ${reqId}`);
        reject(signal!.reason);
      };
      this.pending.set(reqId, {
        name,
        cancelled: false,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.send(`LOCK ${name} ${reqId}`);
    });
  }

  release(name: string): void {
    this.send(`UNLOCK ${name}`);
  }

  get(key: string): Promise<number> {
    return new Promise((resolve) => {
      this.queue(this.valueWaiters, key, resolve);
      this.send(`GET ${key}`);
    });
  }

  set(key: string, value: number): Promise<void> {
    return new Promise((resolve) => {
      this.queue(this.storeWaiters, key, resolve);
      this.send(`SET ${key} ${value}`);
    });
  }

  async close(): Promise<void> {
    if (this.socket.destroyed) return;
    const closed = once(this.socket, 'close');
    this.socket.end();
    await closed;
  }

  private queue<T>(map: Map<string, T[]>, key: string, waiter: T): void {
    const list = map.get(key);
    if (list) list.push(waiter);
    else map.set(key, [waiter]);
  }

  private send(line: string): void {
    if (!this.socket.destroyed) this.socket.write(`${line}\n`);
  }

  private onLine(line: string): void {
    const [kind, a, b] = line.trim().split(/\s+/);
    if (kind === 'GRANTED' && a) {
      const p = this.pending.get(a);
      if (!p) return;
      this.pending.delete(a);
      // granted after the caller gave up (the CANCEL crossed the grant): give it back
      if (p.cancelled) this.release(p.name);
      else p.resolve();
    } else if (kind === 'CANCELLED' && a) {
      this.pending.delete(a);
    } else if (kind === 'VALUE' && a) {
      this.valueWaiters.get(a)?.shift()?.(Number(b));
    } else if (kind === 'STORED' && a) {
      this.storeWaiters.get(a)?.shift()?.();
    } else if (kind === 'ERR') {
      process.emitWarning(`lock server: ${line}`);
    }
  }
}
