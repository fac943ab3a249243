// A real WebSocket proxy that makes one client's link to the daemon slow in
// one direction: every client→daemon frame is held for `delayMs` after the
// proxy received it, then forwarded — in order, since a WebSocket connection
// delivers in order and the daemon relies on it. daemon→client frames pass
// at once. Tests put ONE SDK client behind it to give the daemon views of
// different clients that lag by different amounts, as real networks do.
//
// Each connection the proxy accepts gets its own upstream connection to
// `target` (the daemon's ws://host:port), keeping the request path
// (/v1/stream). A close on either side is passed on; frames still held when
// the client closes are delivered first, then the upstream is closed.
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

export interface DelayProxy {
  /** ws://127.0.0.1:<port><path of target>: what the delayed client connects to */
  url: string;
  port: number;
  /** client→daemon frames forwarded so far, over all connections */
  readonly forwarded: number;
  close(): Promise<void>;
}

export interface DelayProxyOptions {
  /** the daemon's stream URL, e.g. ws://127.0.0.1:7070/v1/stream */
  target: string;
  /** how long each client→daemon frame is held */
  delayMs: number;
}

interface HeldFrame {
  due: number;
  data: RawData;
  isBinary: boolean;
}

/** Close codes a peer may not send itself (1005, 1006, 1015) become a plain 1000. */
function sendableCode(code: number): number {
  return code === 1005 || code === 1006 || code === 1015 || code < 1000 || code >= 5000 ? 1000 : code;
}

export async function startDelayProxy(opts: DelayProxyOptions): Promise<DelayProxy> {
  const target = new URL(opts.target);
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const sockets = new Set<WebSocket>();
  const timers = new Set<NodeJS.Timeout>();
  let forwarded = 0;

  wss.on('connection', (client, req) => {
    const upstreamUrl = new URL(req.url ?? target.pathname, `${target.protocol}//${target.host}`);
    const upstream = new WebSocket(upstreamUrl);
    sockets.add(client);
    sockets.add(upstream);
    const held: HeldFrame[] = [];
    let timer: NodeJS.Timeout | undefined;
    let clientClosed: { code: number; reason: Buffer } | undefined;

    // Sends every frame that is due, in arrival order; re-arms for the next one.
    const pump = () => {
      if (timer) {
        clearTimeout(timer);
        timers.delete(timer);
        timer = undefined;
      }
      if (upstream.readyState !== WebSocket.OPEN) return; // 'open' pumps again
      const now = Date.now();
      while (held.length > 0 && held[0]!.due <= now) {
        const f = held.shift()!;
        upstream.send(f.data, { binary: f.isBinary });
        forwarded++;
      }
      if (held.length > 0) {
        timer = setTimeout(pump, held[0]!.due - now);
        timers.add(timer);
      } else if (clientClosed) {
        upstream.close(sendableCode(clientClosed.code), clientClosed.reason);
      }
    };

    client.on('message', (data, isBinary) => {
      held.push({ due: Date.now() + opts.delayMs, data, isBinary });
      if (held.length === 1) pump();
    });
    upstream.on('open', pump);
    upstream.on('message', (data, isBinary) => {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    });
    client.on('close', (code, reason) => {
      sockets.delete(client);
      clientClosed = { code, reason };
      if (upstream.readyState === WebSocket.CONNECTING) return; // 'open' pumps, then closes
      if (held.length === 0 && upstream.readyState === WebSocket.OPEN) upstream.close(sendableCode(code), reason);
    });
    upstream.on('close', (code, reason) => {
      sockets.delete(upstream);
      held.length = 0;
      if (timer) {
        clearTimeout(timer);
        timers.delete(timer);
      }
      if (client.readyState === WebSocket.OPEN || client.readyState === WebSocket.CONNECTING) client.close(sendableCode(code), reason);
    });
    // a broken side ends both (the 'close' handlers above do the rest)
    client.on('error', () => upstream.terminate());
    upstream.on('error', () => client.terminate());
  });

  const port = (wss.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}${target.pathname}`,
    port,
    get forwarded() {
      return forwarded;
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.terminate();
      sockets.clear();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
