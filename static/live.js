// A live connection that stays connected: reconnects with exponential backoff (with jitter), asks
// `url()` afresh for every attempt (so the caller can resume with ?after=<last id>), and pings
// to notice a silently dead WebSocket.
//
// Transport. A WebSocket first, every time. When one cannot open (a proxy refuses the upgrade, or
// it brings no first message within OPEN_WITHIN), the next attempt, at once, is the same URL as
// Server-Sent Events (/ws/… → /sse/…, where the server has that twin): the same events, the
// same ?after=&rev= resume, so the caller sees no difference and the state is 'live' either way.
// An event stream that fails makes the next attempt a WebSocket again.

const BASE_DELAY = 500; // ms, first retry
const MAX_DELAY = 15000;
const PING_EVERY = 25000;
const PONG_WITHIN = 10000;
const OPEN_WITHIN = 10000; // a WebSocket that brings nothing by then counts as blocked
// Close codes after which retrying cannot help: unknown article, a request the server refuses.
const FINAL = new Set([1008, 4404]);
// The WebSocket paths that have an event-stream twin.
const SSE_TWINS = /^\/ws\/(articles\/|counts$)/;

/** The event-stream twin of a WebSocket URL, or null when the server has none. */
export function eventStreamUrl(wsUrl) {
  const url = new URL(wsUrl);
  if (!SSE_TWINS.test(url.pathname)) return null;
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = url.pathname.replace(/^\/ws\//, '/sse/');
  return url.href;
}

export class LiveSocket {
  /**
   * @param {() => string} url  the WebSocket URL for the next attempt
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
    this.source = null; // the EventSource, when on Server-Sent Events
    this.useStream = false; // the next attempt is an event stream
    this.heard = false; // the current connection has delivered a message
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
    clearTimeout(this.opening);
    this.stopKeepalive();
    this.ws?.close(1000);
    this.source?.close();
  }

  /** The transport in use: 'websocket' | 'sse' | null. */
  get transport() {
    if (this.ws) return 'websocket';
    return this.source ? 'sse' : null;
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
    this.heard = false;
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    const url = this.url();
    const streamUrl = this.useStream ? eventStreamUrl(url) : null;
    if (streamUrl) this.openStream(streamUrl);
    else this.openSocket(url);
  }

  openSocket(url) {
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.addEventListener('message', (message) => this.receive(ws, message));
    ws.addEventListener('close', (close) => this.closed(ws, close));
    clearTimeout(this.opening);
    this.opening = setTimeout(() => {
      if (ws !== this.ws || this.heard) return;
      ws.close(4000, 'no hello');
      this.closed(ws, { code: 4000, reason: 'no hello' });
    }, OPEN_WITHIN);
  }

  openStream(url) {
    const source = new EventSource(url);
    this.source = source;
    source.addEventListener('message', (message) => this.receive(source, message));
    // The browser would retry by itself (with Last-Event-ID); ours retries with backoff and a
    // fresh ?after=&rev=, which say the same.
    source.addEventListener('error', () => this.lost(source));
  }

  receive(connection, message) {
    if (connection !== this.ws && connection !== this.source) return;
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      console.warn('realtime: ignoring a message that is not JSON', message.data);
      return;
    }
    // The first message of a connection (hello, counts) means the server has us: live.
    if (!this.heard) {
      this.heard = true;
      this.attempt = 0;
      this.setState('live', { transport: this.transport });
      if (this.ws) this.startKeepalive();
    }
    this.lastHeard = Date.now();
    this.onEvent(event);
  }

  closed(ws, close) {
    if (ws !== this.ws) return;
    this.ws = null;
    clearTimeout(this.opening);
    this.stopKeepalive();
    if (this.stopped) return;
    if (FINAL.has(close.code)) {
      this.setState('closed', { code: close.code, reason: close.reason });
      return;
    }
    if (!this.heard && eventStreamUrl(ws.url)) {
      // It never got through: try the event stream now, before any backoff.
      this.useStream = true;
      this.connect();
      return;
    }
    this.schedule();
  }

  lost(source) {
    if (source !== this.source) return;
    source.close();
    this.source = null;
    this.useStream = false; // the next attempt tries the WebSocket again
    if (!this.stopped) this.schedule();
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
