// Keeps this page's copy of the board equal to the server's.
//
// The confirmed bitset changes only through the server: the state fetched over
// HTTP (bytes plus the epoch and version they reflect) and then runs of changes
// applied strictly in version order. A run that arrives early waits; a gap that
// doesn't fill, a new epoch or a resync notice fetches the state again. The
// player's own clicks live in an overlay until the server confirms or refuses them.

import { Bitset } from "./bitset.js";
import { Status, encodeSet } from "./protocol.js";

const GAP_WAIT_MS = 1500;
// A change the server has not answered in this long is shown as not made, and
// the socket starts afresh: a server that stopped answering must not leave
// clicks looking as if they landed.
const ANSWER_WAIT_MS = 5000;

export class BoardSync {
  // `view` is told about changes: changed(index), reset(), counted(count),
  // confirmed(index, value) for the player's own applied changes,
  // refused(index, status, waitMs), frozen(bool), players(n), live(bool).
  constructor({ size, stateUrl, view }) {
    this.size = size;
    this.stateUrl = stateUrl;
    this.view = view;
    this.bits = null;
    this.epoch = 0;
    this.version = 0;
    this.frozen = false;
    this.pending = [];
    this.overlay = new Map();
    this.outstanding = [];
    this.sentAt = [];
    this.connection = null;
    this.fetching = null;
    this.refetch = false;
    this.gapTimer = 0;
    this.live = false;
    setInterval(() => this.checkAnswers(), 1000);
  }

  valueAt(index) {
    const mine = this.overlay.get(index);
    if (mine) return mine.value;
    return this.bits ? this.bits.get(index) : 0;
  }

  get ready() {
    return this.bits !== null;
  }

  // -- the player's changes -------------------------------------------------

  set(index, value) {
    if (!this.live || !this.ready) return Status.UNAVAILABLE;
    if (this.frozen) return Status.FROZEN;
    if (!this.connection.send(encodeSet(index, value))) return Status.UNAVAILABLE;
    const mine = this.overlay.get(index) || { value, waiting: 0, until: 0, refused: false };
    mine.value = value;
    mine.waiting++;
    this.overlay.set(index, mine);
    this.outstanding.push(index);
    this.sentAt.push(Date.now());
    return null;
  }

  checkAnswers() {
    if (!this.sentAt.length || Date.now() - this.sentAt[0] < ANSWER_WAIT_MS) return;
    this.refuseOutstanding();
    this.connection.restart();
  }

  // Changes in flight on a silent socket will not be answered: show them as not made.
  refuseOutstanding() {
    for (const index of this.outstanding) {
      const mine = this.overlay.get(index);
      if (!mine) continue;
      mine.waiting = Math.max(0, mine.waiting - 1);
      this.view.refused(index, Status.UNAVAILABLE);
      if (!mine.waiting) this.overlay.delete(index);
      this.view.changed(index);
    }
    this.outstanding = [];
    this.sentAt = [];
  }

  // A RESULT of another epoch than the state's (0 aside: none of its changes
  // reached the board) has versions that don't compare with ours: the board was
  // replaced in between, so the state is fetched again and decides.
  results({ epoch, entries }) {
    const comparable = epoch === 0 || epoch === this.epoch;
    for (const entry of entries) {
      const index = this.outstanding.shift();
      this.sentAt.shift();
      const mine = this.overlay.get(entry.index);
      if (index !== entry.index || !mine) continue;
      mine.waiting--;
      if (entry.status === Status.APPLIED || entry.status === Status.UNCHANGED) {
        if (comparable) mine.until = Math.max(mine.until, entry.version);
        if (entry.status === Status.APPLIED) this.view.confirmed(entry.index, entry.value);
      } else {
        // A refusal's version field is the milliseconds to wait (RATE_LIMITED) or 0.
        this.view.refused(entry.index, entry.status, entry.version);
      }
      this.settle(entry.index, mine);
    }
    if (!comparable && this.ready) this.resync();
  }

  // Drop an overlay entry once nothing is in flight and the confirmed state
  // has caught up with what the server said about it.
  settle(index, mine) {
    if (mine.waiting > 0 || mine.until > this.version) return;
    this.overlay.delete(index);
    this.view.changed(index);
  }

  settleAll() {
    for (const [index, mine] of this.overlay) this.settle(index, mine);
  }

  // -- messages from the server ---------------------------------------------

  hello(message) {
    this.live = true;
    this.view.live(true);
    this.setFrozen(message.frozen);
    this.view.players(message.players);
    // Anything in flight on the old socket is lost or done: the state decides.
    this.outstanding = [];
    this.sentAt = [];
    for (const mine of this.overlay.values()) mine.waiting = 0;
    if (!this.ready || message.epoch !== this.epoch || message.version !== this.version) {
      this.resync();
    } else {
      this.settleAll();
    }
  }

  disconnected() {
    this.live = false;
    this.view.live(false);
  }

  beacon(message) {
    this.view.players(message.players);
    this.setFrozen(message.frozen);
    if (!this.ready) return;
    if (message.epoch !== this.epoch) this.resync();
    else if (message.version > this.version) this.expect(message.version);
  }

  setFrozen(frozen) {
    if (frozen === this.frozen) return;
    this.frozen = frozen;
    this.view.frozen(frozen);
  }

  update(runs) {
    for (const run of runs) this.pending.push(run);
    if (this.ready) this.drain();
  }

  // Apply every waiting run that can be applied now, in version order.
  drain() {
    this.pending.sort((a, b) => a.from - b.from);
    const waiting = [];
    let progressed = false;
    for (const run of this.pending) {
      if (run.epoch !== this.epoch) {
        waiting.push(run);
      } else if (run.to <= this.version) {
        // Already part of the state.
      } else if (run.from > this.version) {
        waiting.push(run);
      } else {
        this.apply(run);
        progressed = true;
      }
    }
    this.pending = waiting;
    if (progressed) {
      this.view.counted(this.bits.count);
      this.settleAll();
    }
    if (this.pending.some((run) => run.epoch !== this.epoch)) this.resync();
    else if (this.pending.length) this.expect(this.pending[0].from);
    else this.clearGap();
  }

  apply(run) {
    // Skip the changes the state already holds; the rest are applied in order.
    for (let k = this.version - run.from; k < run.words.length; k++) {
      const word = run.words[k];
      const index = word >>> 1;
      if (this.bits.set(index, word & 1) && !this.overlay.has(index)) this.view.changed(index);
    }
    this.version = run.to;
  }

  // The server is ahead of us; if the missing runs don't arrive soon, refetch.
  expect(version) {
    if (this.gapTimer) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = 0;
      if (this.version < version || this.pending.length) this.resync();
    }, GAP_WAIT_MS);
  }

  clearGap() {
    clearTimeout(this.gapTimer);
    this.gapTimer = 0;
  }

  resync() {
    if (this.fetching) {
      this.refetch = true;
      return this.fetching;
    }
    this.clearGap();
    this.fetching = this.fetchState().finally(() => {
      this.fetching = null;
      if (this.refetch) {
        this.refetch = false;
        this.resync();
      }
    });
    return this.fetching;
  }

  async fetchState() {
    let response;
    try {
      response = await fetch(this.stateUrl, { cache: "no-store" });
    } catch (error) {
      this.retryLater();
      return;
    }
    if (!response.ok) {
      this.retryLater();
      return;
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    this.bits = new Bitset(this.size, bytes);
    this.epoch = Number(response.headers.get("X-Board-Epoch"));
    this.version = Number(response.headers.get("X-Board-Version"));
    this.setFrozen(response.headers.get("X-Board-Frozen") === "1");
    // Runs of another epoch are older than this state (a newer epoch would
    // have been in it): drop them rather than wait for them.
    this.pending = this.pending.filter((run) => run.epoch === this.epoch);
    for (const [index, mine] of this.overlay) if (mine.waiting === 0) this.overlay.delete(index);
    this.view.reset();
    this.view.counted(this.bits.count);
    this.drain();
  }

  retryLater() {
    setTimeout(() => this.resync(), 1000 + Math.random() * 1000);
  }
}
