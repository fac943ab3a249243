// Finds SDK connections whose peer is gone without closing them: a machine that
// lost power, a network partition, a NAT that dropped the flow. TCP alone
// never notices (no data flows to a client that only listens), so its holds
// and waits would stay in the graph forever as phantom edges. Every interval
// we ping each socket; one that has not answered the previous ping is
// terminated, which starts its client's disconnect grace period like any
// close. ws answers pings on its own (the SDK uses ws), so a live client
// costs nothing but the pong. A dead one is found within two intervals.
import { WebSocket, type WebSocketServer } from 'ws';

export interface Heartbeat {
  stop(): void;
}

export function startHeartbeat(wss: WebSocketServer, intervalMs: number, onDead: (socket: WebSocket) => void): Heartbeat {
  const answered = new WeakMap<WebSocket, boolean>();
  const onPong = function (this: WebSocket) {
    answered.set(this, true);
  };
  const timer = setInterval(() => {
    for (const socket of wss.clients) {
      if (socket.readyState !== WebSocket.OPEN) continue;
      if (!answered.has(socket)) socket.on('pong', onPong); // first time we see it
      else if (!answered.get(socket)) {
        onDead(socket);
        socket.terminate();
        continue;
      }
      answered.set(socket, false);
      socket.ping();
    }
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
