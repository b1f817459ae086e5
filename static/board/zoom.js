// The board zoomed out: a few pixels per box, drawn on a canvas from the
// bitset the page already holds, so a picture players drew fits on a screen.
//
// Loaded on first use (main.js imports it when the zoom control, Ctrl+wheel,
// a pinch or a #box@zoom link asks for it), so a first visit doesn't pay for it.
//
// Virtualised like the grid: a tall spacer gives the scroll range, and only
// the rows in view are drawn, one pixel per box into a small image that is
// then scaled up without smoothing. A scroll redraws the rows in view (at
// 1 px per box on a 1280 px screen, about a million bits); a live change
// only repaints its own pixel. The real checkboxes stay under the canvas,
// inert while it covers them: keyboard and screen-reader users get a text
// alternative and a button back to them.

import { rgb } from "./minimap.js";
import { rememberBox } from "./position.js";

// Pixels per box, most zoomed in first. The real checkboxes come before 8.
export const LEVELS = [8, 4, 2, 1];
// As in grid.js: browsers cap element heights, so huge boards compress the scroll range.
const MAX_SCROLL_PX = 8_000_000;
const WHEEL_STEP = 60;
const PINCH_STEP = 1.45;
const PLACE_DELAY_MS = 250;

const numbers = new Intl.NumberFormat("en-US");

export class Zoom {
  // `sync` is the page's BoardSync; `grid` the real checkboxes under the
  // canvas; `onPick(index, {focus, offset})` takes the player back to real
  // boxes with box `index` `offset` CSS px below the top of the grid (or in
  // the middle when `offset` is null); `onPlace(first, last)` is told the
  // boxes in view; `onLevel(px)` when the level changes (0: the real boxes).
  // Offsets are always from the top of the grid, which the view covers; a
  // null offset puts the box in the top row of the canvas.
  constructor({ board, viewport, grid, sync, size, onPick, onPlace, onLevel }) {
    this.board = board;
    this.viewport = viewport;
    this.grid = grid;
    this.sync = sync;
    this.size = size;
    this.onPick = onPick;
    this.onPlace = onPlace;
    this.onLevel = onLevel;
    this.px = 0;
    this.columns = 1;
    this.rowCount = 1;
    this.scale = 1;
    this.gutter = 0;
    this.firstRow = 0;
    this.rows = 0;
    this.image = null;
    this.words = null;
    this.frame = 0;
    this.paintOnly = false;
    this.placeTimer = 0;
    this.wheelTotal = 0;
    this.wheelTimer = 0;
    this.pinch = 0;
    this.held = null;
    this.colors = null;
    this.build();
    this.buffer = document.createElement("canvas");
    this.context = this.canvas.getContext("2d");
    new ResizeObserver(() => this.fit()).observe(viewport);
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => this.reset());
    for (const surface of [viewport, this.scroller]) {
      surface.addEventListener("touchstart", (event) => this.touchStart(event), { passive: true });
      surface.addEventListener("touchmove", (event) => this.touchMove(event), { passive: false });
      surface.addEventListener("touchend", () => (this.pinch = 0), { passive: true });
    }
  }

  get active() {
    return this.px > 0;
  }

  // -- the view's elements ----------------------------------------------------

  build() {
    this.section = element("div", "zoomed");
    this.section.hidden = true;
    const bar = element("div", "zoomed-bar");
    this.back = element("button", "button button-strong zoomed-back");
    this.back.type = "button";
    this.back.textContent = "Back to boxes";
    this.text = element("p", "zoomed-text");
    this.text.id = "zoomed-text";
    bar.append(this.back, this.text);
    this.scroller = element("div", "zoomed-scroller");
    this.scroller.tabIndex = 0;
    this.scroller.setAttribute("role", "region");
    this.scroller.setAttribute("aria-label", "The board, zoomed out");
    this.scroller.setAttribute("aria-describedby", "zoomed-text");
    this.canvas = element("canvas", "zoomed-canvas");
    this.canvas.setAttribute("aria-hidden", "true");
    this.spacer = element("div", "zoomed-spacer");
    this.scroller.append(this.canvas, this.spacer);
    this.section.append(bar, this.scroller);
    this.board.append(this.section);
    this.back.addEventListener("click", () => this.pick(this.middleBox(), { focus: true }));
    this.section.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.pick(this.middleBox(), { focus: true });
    });
    this.canvas.addEventListener("click", (event) => this.clicked(event));
    this.scroller.addEventListener("scroll", () => this.scrolled(), { passive: true });
    this.scroller.addEventListener("wheel", (event) => this.wheel(event), { passive: false });
  }

  // Cover the real grid exactly, wherever the stylesheet puts it.
  fit() {
    // Fractional px: offsetTop and friends round, which can leave a sliver of grid showing.
    const grid = this.viewport.getBoundingClientRect();
    const board = this.board.getBoundingClientRect();
    const style = this.section.style;
    style.top = `${grid.top - board.top}px`;
    style.left = `${grid.left - board.left}px`;
    style.width = `${grid.width}px`;
    style.height = `${grid.height}px`;
    if (this.active) this.layout(this.topLeftBox());
  }

  // -- levels ---------------------------------------------------------------------

  // Show the board at `px` pixels per box (0: the real boxes), with box
  // `anchor` `offset` CSS px below the top of the grid.
  show(px, anchor, offset = null) {
    if (!px) {
      this.pick(anchor, { offset: offset ?? 0 });
      return;
    }
    if (!LEVELS.includes(px)) return;
    const entering = !this.active;
    this.px = px;
    if (entering) {
      this.viewport.inert = true;
      this.section.hidden = false;
      this.fit();
    }
    this.layout(anchor, offset);
    this.onLevel(px);
    this.remember();
  }

  // One level out (toward 1 px per box) or in (toward the real boxes), around
  // `anchor` (the box under the pointer, or the view's top left).
  zoomOut(anchor = this.currentBox(), offset = null) {
    const at = LEVELS.indexOf(this.px);
    if (at === LEVELS.length - 1) return;
    this.show(LEVELS[at + 1], anchor, offset);
  }

  zoomIn(anchor = this.currentBox(), offset = null) {
    const at = LEVELS.indexOf(this.px);
    if (at === -1) return;
    if (at === 0) this.pick(anchor, { offset: offset ?? 0 });
    else this.show(LEVELS[at - 1], anchor, offset);
  }

  currentBox() {
    return this.active ? this.topLeftBox() : this.grid.topLeftBox();
  }

  // Back to the real checkboxes, at box `index` (see the constructor for `offset`).
  pick(index, { focus = false, offset = null } = {}) {
    const wasActive = this.active;
    this.px = 0;
    this.section.hidden = true;
    this.viewport.inert = false;
    if (wasActive) this.onLevel(0);
    this.onPick(index, { focus, offset });
  }

  // -- geometry ---------------------------------------------------------------------

  layout(anchor, offset = null) {
    const width = this.scroller.clientWidth;
    const height = this.scroller.clientHeight;
    if (!width || !height) return;
    const px = this.px;
    this.columns = Math.max(1, Math.floor(width / px));
    this.gutter = Math.floor((width - this.columns * px) / 2);
    this.rowCount = Math.ceil(this.size / this.columns);
    const total = this.rowCount * px;
    this.scale = total > MAX_SCROLL_PX ? total / MAX_SCROLL_PX : 1;
    const ratio = devicePixelRatio || 1;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    // The canvas is sticky and takes its own height in the flow: the spacer
    // makes up the rest of the scroll range.
    this.spacer.style.height = `${Math.max(0, Math.min(total, MAX_SCROLL_PX) - height)}px`;
    this.rows = Math.min(this.rowCount, Math.ceil(height / px) + 1);
    this.buffer.width = this.columns;
    this.buffer.height = this.rows;
    this.image = this.buffer.getContext("2d").createImageData(this.columns, this.rows);
    this.words = new Uint32Array(this.image.data.buffer);
    this.scrollToBox(anchor, offset);
  }

  scrollToBox(index, offset = null) {
    const row = Math.floor(clamp(index, this.size) / this.columns);
    const below = offset === null ? 0 : offset - this.canvasTop();
    this.scroller.scrollTop = Math.max(0, Math.round((row * this.px - below) / this.scale));
    this.draw();
  }

  // The middle of the canvas, as an offset from the grid's top.
  get middle() {
    return this.canvasTop() + this.scroller.clientHeight / 2;
  }

  // How far below the grid's top the canvas starts (the bar above it).
  canvasTop() {
    return this.scroller.getBoundingClientRect().top - this.section.getBoundingClientRect().top;
  }

  // Where the content starts, in board pixels, at the top of the view.
  get contentTop() {
    return this.scroller.scrollTop * this.scale;
  }

  topLeftBox() {
    const row = Math.floor(this.contentTop / this.px);
    return Math.min(this.size - 1, row * this.columns);
  }

  rangeInView() {
    const top = this.contentTop;
    const firstRow = Math.floor(top / this.px);
    const lastRow = Math.floor((top + this.scroller.clientHeight - 1) / this.px);
    return {
      first: Math.min(this.size - 1, firstRow * this.columns),
      last: Math.min(this.size - 1, (lastRow + 1) * this.columns - 1),
    };
  }

  middleBox() {
    const index = this.indexAt(this.scroller.clientWidth / 2, this.scroller.clientHeight / 2);
    return index === null ? this.topLeftBox() : index;
  }

  // The box under a point (CSS px from the canvas's corner), or null off the board.
  indexAt(x, y) {
    const column = Math.floor((x - this.gutter) / this.px);
    if (column < 0 || column >= this.columns) return null;
    const row = Math.floor((this.contentTop + y) / this.px);
    const index = row * this.columns + column;
    return index < this.size ? index : null;
  }

  // The centre of box `index` in CSS px from the canvas's corner (tests read pixels there).
  pointOf(index) {
    return {
      x: this.gutter + (index % this.columns) * this.px + this.px / 2,
      y: Math.floor(index / this.columns) * this.px - this.contentTop + this.px / 2,
    };
  }

  // -- drawing ---------------------------------------------------------------------

  scrolled() {
    this.schedule(false);
    clearTimeout(this.placeTimer);
    this.placeTimer = setTimeout(() => this.remember(), PLACE_DELAY_MS);
  }

  remember() {
    if (this.active) rememberBox(this.topLeftBox(), this.px);
  }

  schedule(paintOnly) {
    this.paintOnly = this.frame ? this.paintOnly && paintOnly : paintOnly;
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw(this.paintOnly));
  }

  // Fill the image with the rows in view (unless only pixels changed), then paint it.
  draw(paintOnly = false) {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    if (!this.active || !this.image) return;
    if (!this.colors) this.colors = readColors(this.section);
    const first = Math.max(0, Math.min(Math.floor(this.contentTop / this.px), this.rowCount - this.rows));
    if (!paintOnly || first !== this.firstRow) {
      this.firstRow = first;
      this.fill();
    }
    this.paint();
    this.describe();
  }

  fill() {
    const { words, columns } = this;
    const { empty, checked, outside } = this.colors;
    const bits = this.sync.bits;
    const start = this.firstRow * columns;
    const end = Math.min(this.size, start + this.rows * columns);
    words.fill(outside);
    if (bits) {
      const bytes = bits.bytes;
      for (let index = start; index < end; index++) {
        words[index - start] = (bytes[index >> 3] >> (7 - (index & 7))) & 1 ? checked : empty;
      }
    } else {
      words.fill(empty, 0, end - start);
    }
    // The player's own clicks, shown as they will be once the server confirms them.
    for (const [index, mine] of this.sync.overlay) {
      if (index >= start && index < end) words[index - start] = mine.value ? checked : empty;
    }
  }

  paint() {
    this.buffer.getContext("2d").putImageData(this.image, 0, 0);
    const ratio = this.canvas.width / this.scroller.clientWidth;
    const context = this.context;
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.fillStyle = this.colors.outsideCss;
    context.fillRect(0, 0, this.canvas.width, this.canvas.height);
    context.imageSmoothingEnabled = false;
    const lift = this.contentTop - this.firstRow * this.px;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.drawImage(this.buffer, this.gutter, -lift, this.columns * this.px, this.rows * this.px);
  }

  // A box changed: repaint its pixel if it is drawn.
  changed(index) {
    if (!this.active || !this.image) return;
    const at = index - this.firstRow * this.columns;
    if (at < 0 || at >= this.rows * this.columns) return;
    const { checked, empty } = this.colors || (this.colors = readColors(this.section));
    this.words[at] = this.sync.valueAt(index) ? checked : empty;
    this.schedule(true);
  }

  reset() {
    this.colors = null;
    if (this.active) this.schedule(false);
  }

  describe() {
    const { first, last } = this.rangeInView();
    const bits = this.sync.bits;
    const checked = bits ? bits.countRange(first, last + 1) : 0;
    const text =
      `Boxes ${numbers.format(first)} to ${numbers.format(last)}, ${this.px} px per box: ` +
      `${numbers.format(checked)} checked. Press a spot to see its boxes.`;
    if (this.text.textContent !== text) this.text.textContent = text;
    this.onPlace(first, last);
  }

  // -- pointer, wheel, touch -----------------------------------------------------------

  clicked(event) {
    const { x, y } = this.canvasPoint(event);
    const index = this.indexAt(x, y);
    if (index !== null) this.pick(index);
  }

  canvasPoint(event) {
    const box = this.canvas.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  }

  // Ctrl+wheel (and a trackpad's pinch, which browsers send as one) over the
  // zoomed view; main.js forwards the ones over the real grid to `wheelAt`.
  wheel(event) {
    if (!event.ctrlKey) return;
    event.preventDefault();
    const { anchor, offset } = this.anchorAt(event);
    this.wheelAt(event.deltaY, anchor, offset);
  }

  // Trackpads send many small deltas, wheels a few big ones: a level per WHEEL_STEP.
  wheelAt(delta, anchor, offset) {
    this.wheelTotal += delta;
    clearTimeout(this.wheelTimer);
    this.wheelTimer = setTimeout(() => (this.wheelTotal = 0), 300);
    if (Math.abs(this.wheelTotal) < WHEEL_STEP) return;
    const out = this.wheelTotal > 0;
    this.wheelTotal = 0;
    if (out) this.zoomOut(anchor, offset);
    else this.zoomIn(anchor, offset);
  }

  touchStart(event) {
    this.pinch = event.touches.length === 2 ? spread(event.touches) : 0;
  }

  // Two fingers apart or together by PINCH_STEP: a level in or out, around their middle.
  touchMove(event) {
    if (event.touches.length !== 2) return;
    event.preventDefault();
    const now = spread(event.touches);
    if (!this.pinch) this.pinch = now;
    const ratio = now / this.pinch;
    if (ratio > 1 / PINCH_STEP && ratio < PINCH_STEP) return;
    this.pinch = now;
    const [a, b] = event.touches;
    const middle = { clientX: (a.clientX + b.clientX) / 2, clientY: (a.clientY + b.clientY) / 2 };
    const { anchor, offset } = this.anchorAt(middle);
    if (ratio < 1) this.zoomOut(anchor, offset);
    else this.zoomIn(anchor, offset);
  }

  // The box under a point, on whichever view is showing, and its height below
  // the grid's top. Levels lay boxes out in different columns, so the box
  // under a point that has not moved (within a few px) since the last step
  // is the one held from before: otherwise each step would drift by up to
  // half a row.
  anchorAt({ clientX, clientY }) {
    const held = this.held;
    if (held && Math.abs(held.clientX - clientX) < 8 && Math.abs(held.clientY - clientY) < 8) return held;
    this.held = { clientX, clientY, ...this.pointedBox(clientX, clientY) };
    return this.held;
  }

  pointedBox(clientX, clientY) {
    if (this.active) {
      const { x, y } = this.canvasPoint({ clientX, clientY });
      const index = this.indexAt(x, y);
      return { anchor: index === null ? this.topLeftBox() : index, offset: y + this.canvasTop() };
    }
    return gridAnchor(this.grid, this.viewport, clientX, clientY);
  }
}

// The real box under a point of the grid (or its top-left box) and how far
// below the grid's top it is.
export function gridAnchor(grid, viewport, clientX, clientY) {
  const under = document.elementFromPoint(clientX, clientY);
  const offset = clientY - viewport.getBoundingClientRect().top;
  if (under && under.classList.contains("box")) return { anchor: Number(under.dataset.index), offset };
  return { anchor: grid.topLeftBox(), offset: 0 };
}

function element(tag, className) {
  const made = document.createElement(tag);
  made.className = className;
  return made;
}

function clamp(index, size) {
  return Math.max(0, Math.min(index, size - 1));
}

function spread(touches) {
  const [a, b] = touches;
  return Math.hypot(a.clientX - b.clientX, a.clientY - b.clientY) || 1;
}

// The canvas's colours come from the stylesheet (--zoom-* custom properties),
// as 32-bit pixels in the byte order ImageData uses on this machine.
function readColors(section) {
  const style = getComputedStyle(section);
  const value = (name) => style.getPropertyValue(name).trim();
  return {
    empty: pixel(rgb(value("--zoom-empty"))),
    checked: pixel(rgb(value("--zoom-checked"))),
    outside: pixel(rgb(value("--zoom-outside"))),
    outsideCss: value("--zoom-outside"),
  };
}

function pixel([r, g, b]) {
  const bytes = new Uint8ClampedArray([r, g, b, 255]);
  return new Uint32Array(bytes.buffer)[0];
}
