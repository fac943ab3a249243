// Finds SDK connections whose peer is gone without closing them: a machine that
// lost power, a network partition, a NAT that dropped the flow. TCP alone
// never notices (no data flows to a client that only listens), so its holds
// and waits would stay in the graph forever as phantom edges. Every interval
// we ping each socket; one that has sent nothing since the previous ping (no
// pong, no frame) is terminated, which starts its client's disconnect grace
// period like any close. ws answers pings on its own (the SDK uses ws), so a
// live client costs nothing but the pong. A dead one is found within two
// intervals.
//
// Two guards against cutting off live peers when the daemon itself was busy:
// the check runs in setImmediate, after the event loop has read the input that
// queued up meanwhile (timers run before pending socket reads), and a tick that
// fires late (the loop was blocked) only pings and does not judge.
import { WebSocket, type WebSocketServer } from 'ws';

export interface Heartbeat {
  stop(): void;
}

/** A tick later than this many intervals means the daemon was blocked: don't judge on it. */
const LATE_FACTOR = 1.5;

export function startHeartbeat(wss: WebSocketServer, intervalMs: number, onDead: (socket: WebSocket) => void): Heartbeat {
  const heard = new WeakMap<WebSocket, boolean>();
  const alive = function (this: WebSocket) {
    heard.set(this, true);
  };
  let last = performance.now();
  const beat = () => {
    const now = performance.now();
    const late = now - last > intervalMs * LATE_FACTOR;
    last = now;
    for (const socket of wss.clients) {
      if (socket.readyState !== WebSocket.OPEN) continue;
      if (socket.isPaused) {
        // paused by its session while its namespace searches (session.ts): we are not reading
        // its pongs; judged again from the first beat after it resumes
        if (heard.has(socket)) heard.set(socket, true);
        continue;
      }
      if (!heard.has(socket)) {
        // first time we see it: any pong or frame counts as a sign of life
        socket.on('pong', alive).on('message', alive);
      } else if (!heard.get(socket) && !late) {
        onDead(socket);
        socket.terminate();
        continue;
      }
      heard.set(socket, false);
      socket.ping();
    }
  };
  const timer = setInterval(() => setImmediate(beat), intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
