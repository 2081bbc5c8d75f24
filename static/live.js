// A WebSocket that stays connected: reconnects with exponential backoff (with jitter), asks
// `url()` afresh for every attempt (so the caller can resume with ?after=<last id>), and pings
// to notice a silently dead connection.

const BASE_DELAY = 500; // ms, first retry
const MAX_DELAY = 15000;
const PING_EVERY = 25000;
const PONG_WITHIN = 10000;
// Close codes after which retrying cannot help: unknown article, a request the server refuses.
const FINAL = new Set([1008, 4404]);

export class LiveSocket {
  /**
   * @param {() => string} url  the URL for the next attempt
   * @param {(event: object) => void} onEvent  every decoded server message
   * @param {(state: string, detail?: object) => void} onState
   *        'connecting' | 'live' | 'reconnecting' | 'closed'
   */
  constructor({ url, onEvent, onState }) {
    this.url = url;
    this.onEvent = onEvent;
    this.onState = onState;
    this.attempt = 0;
    this.ws = null;
    this.timer = null;
    this.stopped = false;
    this.state = null;
    this.onOnline = () => this.retryNow();
  }

  start() {
    window.addEventListener('online', this.onOnline);
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.timer);
    this.stopKeepalive();
    this.ws?.close(1000);
  }

  send(message) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  setState(state, detail) {
    if (state === this.state) return;
    this.state = state;
    this.onState(state, detail);
  }

  connect() {
    this.timer = null;
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.addEventListener('message', (message) => this.receive(ws, message));
    ws.addEventListener('close', (close) => this.closed(ws, close));
  }

  receive(ws, message) {
    if (ws !== this.ws) return;
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      console.warn('realtime: ignoring a frame that is not JSON', message.data);
      return;
    }
    // The first message of a connection (hello, counts) means the server has us: live.
    if (this.state !== 'live') {
      this.attempt = 0;
      this.setState('live');
      this.startKeepalive();
    }
    this.lastHeard = Date.now();
    this.onEvent(event);
  }

  closed(ws, close) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.stopKeepalive();
    if (this.stopped) return;
    if (FINAL.has(close.code)) {
      this.setState('closed', { code: close.code, reason: close.reason });
      return;
    }
    this.schedule();
  }

  schedule() {
    const ceiling = Math.min(MAX_DELAY, BASE_DELAY * 2 ** this.attempt);
    const delay = ceiling / 2 + (Math.random() * ceiling) / 2;
    this.attempt += 1;
    this.setState('reconnecting', { delay });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  retryNow() {
    if (this.timer === null || this.stopped) return;
    clearTimeout(this.timer);
    this.connect();
  }

  startKeepalive() {
    this.stopKeepalive();
    this.pinger = setInterval(() => {
      const sent = Date.now();
      this.send({ type: 'ping' });
      this.watchdog = setTimeout(() => {
        if (this.lastHeard >= sent || !this.ws) return;
        // A dead link may take minutes to report its close: drop it and reconnect now.
        const ws = this.ws;
        ws.close(4000, 'no pong');
        this.closed(ws, { code: 4000, reason: 'no pong' });
      }, PONG_WITHIN);
    }, PING_EVERY);
  }

  stopKeepalive() {
    clearInterval(this.pinger);
    clearTimeout(this.watchdog);
  }
}
