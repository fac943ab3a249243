// The /v1/live WebSocket: reconnects with a growing pause, hands each
// snapshot frame to onFrame and the connection state to onState.
import { withToken } from './format.js';

export function openLive({ blockedOnly, onFrame, onState }) {
  let ws = null;
  let closed = false;
  let pause = 500;
  let timer = null;

  const connect = () => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const path = withToken(`/v1/live${blockedOnly ? '?view=blocked' : ''}`);
    onState('connecting');
    ws = new WebSocket(`${proto}//${location.host}${path}`);
    ws.onopen = () => {
      pause = 500;
      onState('live');
    };
    ws.onmessage = (ev) => {
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (frame.type === 'snapshot') onFrame(frame);
    };
    ws.onclose = () => {
      if (closed) return;
      onState('down');
      timer = setTimeout(connect, pause);
      pause = Math.min(pause * 2, 5000);
    };
  };
  connect();

  return {
    close() {
      closed = true;
      clearTimeout(timer);
      ws?.close();
    },
  };
}
