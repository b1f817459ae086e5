// One WebSocket to the board that reconnects on its own, acknowledges frames
// so the server keeps sending, and notices a silent server.

import { FRAME_RESULT, FRAME_UPDATE, decodeResults, decodeUpdate, encodeAck } from "./protocol.js";

const ACK_EVERY = 16;
// The protocol asks for an ACK within a second; each one costs the server a
// dispatch, so a quiet trickle of frames is acknowledged once a second, not more.
const ACK_DELAY_MS = 1000;
const PING_MS = 20000;
const SILENCE_MS = 50000;
const MAX_BACKOFF_MS = 10000;
const CLOSE_BOARD_NOT_FOUND = 4404;
const CLOSE_BOARD_DELETED = 4410;
// Closes after which the board is not there to come back to.
const FINAL_CLOSES = { [CLOSE_BOARD_NOT_FOUND]: "gone", [CLOSE_BOARD_DELETED]: "deleted" };
// Too many changes, sockets or reconnections from here: come back slowly.
const CLOSE_TOO_MANY = 4429;
const SLOW_ATTEMPT = 6;

export function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

export class Connection {
  // `handlers` has a method per message type: hello, update, results, beacon,
  // resync, frozen, error, pong, plus status(state, detail).
  constructor(path, handlers) {
    this.url = socketUrl(path);
    this.handlers = handlers;
    this.socket = null;
    this.frames = 0;
    this.ackedFrames = 0;
    this.ackTimer = 0;
    this.attempt = 0;
    this.retryTimer = 0;
    this.lastHeard = 0;
    this.stopped = false;
    setInterval(() => this.keepAlive(), PING_MS);
    addEventListener("online", () => this.reconnectNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.reconnectNow();
    });
  }

  get isOpen() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  open() {
    clearTimeout(this.retryTimer);
    this.frames = 0;
    this.ackedFrames = 0;
    const socket = new WebSocket(this.url);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => this.receive(socket, event.data);
    socket.onclose = (event) => this.closed(socket, event);
    this.socket = socket;
    this.handlers.status(this.attempt ? "reconnecting" : "connecting");
  }

  send(data) {
    if (!this.isOpen) return false;
    this.socket.send(data);
    return true;
  }

  receive(socket, data) {
    if (socket !== this.socket) return;
    this.lastHeard = Date.now();
    this.frames++;
    this.scheduleAck();
    if (typeof data === "string") {
      const message = JSON.parse(data);
      const handler = this.handlers[message.type];
      if (message.type === "hello") this.attempt = 0;
      if (handler) handler.call(this.handlers, message);
      return;
    }
    const type = new Uint8Array(data, 0, 1)[0];
    if (type === FRAME_UPDATE) this.handlers.update(decodeUpdate(data));
    else if (type === FRAME_RESULT) this.handlers.results(decodeResults(data));
  }

  scheduleAck() {
    if (this.frames - this.ackedFrames >= ACK_EVERY) {
      this.ack();
    } else if (!this.ackTimer) {
      this.ackTimer = setTimeout(() => this.ack(), ACK_DELAY_MS);
    }
  }

  ack() {
    clearTimeout(this.ackTimer);
    this.ackTimer = 0;
    if (this.frames !== this.ackedFrames && this.send(encodeAck(this.frames))) {
      this.ackedFrames = this.frames;
    }
  }

  closed(socket, event) {
    if (socket !== this.socket) return;
    this.socket = null;
    clearTimeout(this.ackTimer);
    this.ackTimer = 0;
    if (event.code in FINAL_CLOSES) {
      this.stopped = true;
      this.handlers.status(FINAL_CLOSES[event.code], event.reason);
      return;
    }
    this.attempt++;
    if (event.code === CLOSE_TOO_MANY) this.attempt = Math.max(this.attempt, SLOW_ATTEMPT);
    this.handlers.status("reconnecting");
    const backoff = Math.min(MAX_BACKOFF_MS, 400 * 2 ** Math.min(this.attempt, 6));
    this.retryTimer = setTimeout(() => this.open(), backoff * (0.5 + Math.random()));
  }

  // Close this socket and open another (after the usual backoff).
  restart() {
    if (this.socket !== null) this.socket.close();
  }

  reconnectNow() {
    if (this.stopped || this.socket !== null) return;
    this.open();
  }

  keepAlive() {
    if (!this.isOpen) return;
    if (Date.now() - this.lastHeard > SILENCE_MS) {
      // The server went quiet (half-open TCP, a stalled proxy): start afresh.
      this.socket.close();
      return;
    }
    this.socket.send(JSON.stringify({ type: "ping" }));
  }
}
