// /ws/admin: a LiveSocket that sends the admin token as its first message on every connection
// (a WebSocket cannot carry an Authorization header from a browser), and stops for good when
// the server refuses the token (4403) instead of retrying with it.

import { LiveSocket } from './live.js';

export const WS_4403_FORBIDDEN = 4403;

export class AdminSocket extends LiveSocket {
  /** @param {(reason: string) => void} onRefused  the server closed with 4403: the token is
   *  wrong, or was revoked (the close frame's reason says which) */
  constructor({ url, token, onEvent, onState, onRefused }) {
    super({ url, onEvent, onState });
    this.token = token;
    this.onRefused = onRefused;
  }

  connect() {
    super.connect();
    const ws = this.ws;
    ws.addEventListener('open', () => ws.send(JSON.stringify({ type: 'auth', token: this.token })));
  }

  closed(ws, close) {
    if (ws === this.ws && close.code === WS_4403_FORBIDDEN) {
      this.stop();
      this.onRefused(close.reason);
      return;
    }
    super.closed(ws, close);
  }
}
