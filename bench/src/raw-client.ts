// A bare WebSocket client speaking the protocol by hand (no SDK): the ingest
// measurement sends pre-serialized frames as fast as the socket takes them.
import { WebSocket } from 'ws';
import { PROTOCOL_VERSION, type ServerFrame } from '@deadlockd/proto';

export class RawClient {
  readonly errors: ServerFrame[] = [];
  private waiters: { match: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void }[] = [];

  private constructor(
    private readonly ws: WebSocket,
    readonly session: string,
  ) {}

  static async connect(url: string, service: string): Promise<RawClient> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let client: RawClient | undefined;
    let welcomed: (f: ServerFrame) => void = () => {};
    const welcome = new Promise<ServerFrame>((resolve) => (welcomed = resolve));
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as ServerFrame;
      if (client) client.onFrame(f);
      else welcomed(f);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, service, instance: `bench-${process.pid}` }));
    let timer: NodeJS.Timeout | undefined;
    const first = await Promise.race([
      welcome,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no welcome within 5 s')), 5_000))),
    ]).finally(() => clearTimeout(timer));
    if (first.type !== 'welcome') throw new Error(`expected welcome, got ${JSON.stringify(first)}`);
    client = new RawClient(ws, first.session);
    return client;
  }

  send(frame: string | object): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /**
   * Resolves when the server has handled everything sent before: ws answers a ping only after
   * the messages ahead of it on the connection went through their (synchronous) handler.
   */
  sync(): Promise<void> {
    return new Promise((resolve) => {
      this.ws.once('pong', () => resolve());
      this.ws.ping();
    });
  }

  /** Resolves with the first frame (from now on) that matches. */
  next(match: (f: ServerFrame) => boolean, timeoutMs = 60_000): Promise<ServerFrame> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching frame within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (f) => {
          clearTimeout(t);
          resolve(f);
        },
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close(1000);
    });
  }

  private onFrame(f: ServerFrame): void {
    if (f.type === 'error') this.errors.push(f);
    const i = this.waiters.findIndex((w) => w.match(f));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      w?.resolve(f);
    }
  }
}
