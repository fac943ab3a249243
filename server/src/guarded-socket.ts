// The WebSocket class the daemon's ws server creates for each connection (ws's
// documented `WebSocket` server option). It exists for one reason: when a
// message is over `maxPayload`, ws reads only its header and then closes the
// connection itself with 1009, before any listener can speak. That close goes
// through close(1009) with no reason, while the socket is still open; here it
// first lets the session queue its FRAME_TOO_LARGE error frame, so the client
// reads the documented error before the close, whatever the frame's size.
import { WebSocket } from 'ws';

const CLOSE_MESSAGE_TOO_BIG = 1009;

export class GuardedSocket extends WebSocket {
  /** set by the Session: called once, just before ws closes an oversized message's connection */
  onOversize: (() => void) | null = null;

  override close(code?: number, data?: string | Buffer): void {
    if (code === CLOSE_MESSAGE_TOO_BIG && data === undefined && this.readyState === WebSocket.OPEN && this.onOversize) {
      const hook = this.onOversize;
      this.onOversize = null;
      hook();
    }
    super.close(code, data);
  }
}
