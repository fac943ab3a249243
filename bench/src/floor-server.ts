// The floor of the ingest measurement: a bare `ws` server (same options as the
// daemon's: no compression, no UTF-8 check by ws) that does nothing with a frame
// but JSON.parse it. It speaks just enough of the protocol for the ingest client:
// `welcome` after `hello`, and an `abort` once the barrier's last wait arrives
// (the daemon answers that frame with an `abort` too, after applying it).
// Runs as its own process (`node floor-server.js`), prints its port on stdout.
import { WebSocketServer } from 'ws';

const BARRIER_LAST_WAIT = 'barrier-wy';

const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false, skipUTF8Validation: true, maxPayload: 1 << 20 });
let sessions = 0;
wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    const f = JSON.parse(String(data)) as { type?: string; events?: { waitId?: string }[] };
    if (f.type === 'hello') ws.send(JSON.stringify({ type: 'welcome', session: `floor-${++sessions}` }));
    else if (f.type === 'events' && f.events?.[f.events.length - 1]?.waitId === BARRIER_LAST_WAIT)
      ws.send(JSON.stringify({ type: 'abort', deadlock: 'floor', waitId: BARRIER_LAST_WAIT }));
  });
});
wss.on('listening', () => {
  const addr = wss.address();
  process.stdout.write(`${typeof addr === 'object' && addr !== null ? addr.port : addr}\n`);
});
