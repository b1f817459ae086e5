// What the page tells the player: short toasts that never block the board,
// and polite screen-reader announcements that never flood.

const TOAST_MS = 4000;

export class Toast {
  constructor(element) {
    this.element = element;
    this.timer = 0;
  }

  // `kind` styles it: "info" or "refused".
  show(text, kind = "info") {
    this.element.textContent = text;
    this.element.dataset.kind = kind;
    this.element.hidden = false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.hide(), TOAST_MS);
  }

  hide() {
    this.element.hidden = true;
  }
}

// Says the latest text in an aria-live="polite" region once things settle,
// and then at most once per `gapMs`: a board changing every few milliseconds
// must not turn into a stream of speech.
export class Announcer {
  constructor(region, { settleMs = 1500, gapMs = 10000 } = {}) {
    this.region = region;
    this.settleMs = settleMs;
    this.gapMs = gapMs;
    this.latest = "";
    this.said = "";
    this.saidAt = -Infinity;
    this.timer = 0;
  }

  say(text) {
    this.latest = text;
    if (this.timer) return;
    const wait = Math.max(this.settleMs, this.saidAt + this.gapMs - performance.now());
    this.timer = setTimeout(() => this.flush(), wait);
  }

  flush() {
    this.timer = 0;
    if (this.latest === this.said) return;
    this.region.textContent = this.latest;
    this.said = this.latest;
    this.saidAt = performance.now();
  }
}

// Says one short text at once, in a polite region of its own: where a jump
// landed is an answer the player asked for, so it is neither delayed nor
// merged with the count. Emptied first, so the same text is said again.
export class Notice {
  constructor(region) {
    this.region = region;
  }

  say(text) {
    this.region.textContent = "";
    requestAnimationFrame(() => {
      this.region.textContent = text;
    });
  }
}
