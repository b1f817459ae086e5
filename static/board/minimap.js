// The whole board in one small canvas: each cell is a run of consecutive boxes
// (cell k holds boxes k*per … (k+1)*per - 1, read left to right, top to
// bottom like the board), shaded by how many of them are checked, any checked box
// at least a clear mark. Brackets in the margins mark the part of the board
// in view (so they hide no cell), scale marks on the left give box numbers,
// the player's own recent changes are marked in a colour of their own and
// others' changes of the last few seconds glow; pressing or dragging on the
// map jumps there.
//
// A change only recounts the one cell it falls in, and only on the next
// animation frame, so a busy 1,000,000-box board costs a few bytes of popcount
// per change rather than a pass over the whole bitset. Cells are recounted
// from the bitset rather than adjusted by +1/-1, so a change seen twice (the
// player's own, once confirmed and once settled) can never skew a count.

const MIN_CELL_PX = 2;
const MAX_CELL_PX = 16;
// A cell with even one checked box is clearly not empty: players look for blank space.
const MIN_SHADE = 0.5;
const MIN_BAND_PX = 6;
// Margins (CSS px): the band's brackets either side, scale labels on the left
// when the map is wide enough to read them.
const BAND_MARGIN_PX = 5;
const LABEL_PX = 34;
const LABEL_MIN_WIDTH_PX = 110;
const MARK_SPACING_PX = 36;
// The player's own changes fade over a minute; others' glow for a few seconds.
const OWN_FADE_MS = 60_000;
const OWN_MARK_PX = 7;
const LIVE_FADE_MS = 4_000;
const LIVE_BIN_PX = 8;
const FADE_REPAINT_MS = 200;

const numbers = new Intl.NumberFormat("en-US");

export class Minimap {
  // `bits()` returns the current Bitset (or null before the state arrives);
  // `onJump(index, {center})` moves the view.
  constructor({ canvas, size, bits, onJump }) {
    this.canvas = canvas;
    this.size = size;
    this.bits = bits;
    this.onJump = onJump;
    this.context = canvas.getContext("2d");
    this.image = document.createElement("canvas");
    this.counts = new Uint32Array(0);
    this.pixels = null;
    this.dirty = new Set();
    this.dirtyAll = true;
    this.view = { first: 0, last: 0 };
    this.step = 1;
    this.frame = 0;
    this.dragging = false;
    this.pendingJump = null;
    this.jumpFrame = 0;
    this.colors = null;
    this.left = BAND_MARGIN_PX;
    this.marks = [];
    this.mine = new Map();
    this.others = new Map();
    this.fadeTimer = 0;
    this.describe(0);
    canvas.addEventListener("pointerdown", (event) => this.pointerDown(event));
    canvas.addEventListener("pointermove", (event) => this.pointerMove(event));
    canvas.addEventListener("pointerup", (event) => this.pointerUp(event));
    canvas.addEventListener("pointercancel", (event) => this.pointerUp(event));
    canvas.addEventListener("keydown", (event) => this.keydown(event));
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => this.repaint());
    new ResizeObserver(() => this.layout()).observe(canvas);
  }

  // -- geometry ---------------------------------------------------------------

  layout() {
    const width = this.canvas.clientWidth;
    const height = this.canvas.clientHeight;
    if (!width || !height) return;
    const ratio = devicePixelRatio || 1;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    // Roughly square cells as big as the board allows, never under 2 px;
    // then stretched to fill the canvas (but never more than twice as tall
    // as wide, which only small boards would need).
    this.left = BAND_MARGIN_PX + (width >= LABEL_MIN_WIDTH_PX ? LABEL_PX : 0);
    this.area = Math.max(1, width - this.left - BAND_MARGIN_PX);
    const fit = Math.floor(Math.sqrt((this.area * height) / this.size));
    const side = Math.max(MIN_CELL_PX, Math.min(MAX_CELL_PX, fit));
    this.mapColumns = Math.max(1, Math.floor(this.area / side));
    const capacity = this.mapColumns * Math.max(1, Math.floor(height / side));
    this.per = Math.ceil(this.size / capacity);
    this.cells = Math.ceil(this.size / this.per);
    this.mapRows = Math.ceil(this.cells / this.mapColumns);
    this.cellWidth = this.area / this.mapColumns;
    this.cellHeight = Math.min(height / this.mapRows, 2 * this.cellWidth);
    this.counts = new Uint32Array(this.cells);
    this.image.width = this.mapColumns;
    this.image.height = this.mapRows;
    this.pixels = this.image.getContext("2d").createImageData(this.mapColumns, this.mapRows);
    this.binColumns = Math.max(1, Math.round(LIVE_BIN_PX / this.cellWidth));
    this.binRows = Math.max(1, Math.round(LIVE_BIN_PX / this.cellHeight));
    this.mine.clear();
    this.others.clear();
    this.marks = this.scaleMarks(height);
    this.repaint();
  }

  // Round box numbers down the left margin, about MARK_SPACING_PX apart.
  scaleMarks(height) {
    if (this.left === BAND_MARGIN_PX) return [];
    const rows = Math.max(1, Math.floor(height / MARK_SPACING_PX));
    const step = niceStep(this.size / rows);
    const marks = [];
    for (let index = 0; index < this.size; index += step) {
      const y = this.rowOf(index) * this.cellHeight;
      if (y > this.mapRows * this.cellHeight - 8) break;
      marks.push({ index, label: shortNumber(index), y });
    }
    return marks;
  }

  rowOf(index) {
    return Math.floor(this.cellOf(index) / this.mapColumns);
  }

  cellOf(index) {
    return Math.floor(index / this.per);
  }

  // The box at the start of the cell under a point (CSS px from the map's corner).
  indexAt(x, y) {
    const column = Math.max(0, Math.min(this.mapColumns - 1, Math.floor((x - this.left) / this.cellWidth)));
    const row = Math.max(0, Math.min(this.mapRows - 1, Math.floor(y / this.cellHeight)));
    return Math.min(this.size - 1, (row * this.mapColumns + column) * this.per);
  }

  // The centre of the cell holding `index`, in CSS px from the map's corner.
  pointOf(index) {
    const cell = this.cellOf(index);
    return {
      x: this.left + ((cell % this.mapColumns) + 0.5) * this.cellWidth,
      y: (Math.floor(cell / this.mapColumns) + 0.5) * this.cellHeight,
    };
  }

  // -- what changed -----------------------------------------------------------

  // Box `index` changed: by anyone (others' changes glow), or by this player
  // (their own changes arrive through `own` as well, and don't glow).
  changed(index) {
    if (!this.pixels) return;
    const cell = this.cellOf(index);
    this.dirty.add(cell);
    const now = performance.now();
    const mine = this.mine.get(cell);
    if (mine === undefined || now - mine > LIVE_FADE_MS) this.others.set(this.binOf(cell), now);
    this.schedule();
  }

  // The server applied one of this player's own changes.
  own(index) {
    if (!this.pixels) return;
    const cell = this.cellOf(index);
    this.mine.delete(cell);
    this.mine.set(cell, performance.now());
    this.dirty.add(cell);
    this.schedule();
  }

  // Others' changes glow over a patch of cells a few pixels wide, not one cell:
  // a busy board then costs a few hundred patches per repaint, not one per change.
  binOf(cell) {
    const row = Math.floor(Math.floor(cell / this.mapColumns) / this.binRows);
    const column = Math.floor((cell % this.mapColumns) / this.binColumns);
    return row * Math.ceil(this.mapColumns / this.binColumns) + column;
  }

  reset() {
    this.dirtyAll = true;
    this.schedule();
  }

  // The boxes in view moved: `first` and `last` are the first and last in it.
  showView(first, last) {
    if (first === this.view.first && last === this.view.last) return;
    this.view = { first, last };
    this.step = Math.max(1, last - first + 1);
    this.describe(first);
    this.schedule();
  }

  repaint() {
    this.colors = null;
    this.reset();
  }

  // -- drawing ----------------------------------------------------------------

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
  }

  draw() {
    this.frame = 0;
    if (!this.pixels) return;
    if (!this.colors) this.colors = readColors(this.canvas);
    if (this.dirtyAll) {
      this.dirtyAll = false;
      this.dirty.clear();
      for (let cell = 0; cell < this.cells; cell++) this.recount(cell);
    } else {
      for (const cell of this.dirty) this.recount(cell);
      this.dirty.clear();
    }
    this.image.getContext("2d").putImageData(this.pixels, 0, 0);
    this.paint();
  }

  recount(cell) {
    const from = cell * this.per;
    const to = Math.min(this.size, from + this.per);
    const bits = this.bits();
    const count = bits ? bits.countRange(from, to) : 0;
    this.counts[cell] = count;
    const shade = count === 0 ? 0 : MIN_SHADE + ((1 - MIN_SHADE) * count) / (to - from);
    const { empty, full } = this.colors;
    const data = this.pixels.data;
    const at = cell * 4;
    for (let channel = 0; channel < 3; channel++) {
      data[at + channel] = empty[channel] + (full[channel] - empty[channel]) * shade;
    }
    data[at + 3] = 255;
  }

  paint() {
    const ratio = this.canvas.width / this.canvas.clientWidth;
    const context = this.context;
    const width = this.canvas.clientWidth;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, this.canvas.clientHeight);
    context.imageSmoothingEnabled = false;
    context.drawImage(this.image, this.left, 0, this.area, this.mapRows * this.cellHeight);
    if (this.cellWidth * ratio >= 6) this.drawGaps();
    const now = performance.now();
    const fading = this.drawOthers(now) + this.drawMine(now);
    this.drawMarks();
    this.drawBand(width);
    clearTimeout(this.fadeTimer);
    if (fading) this.fadeTimer = setTimeout(() => this.schedule(), FADE_REPAINT_MS);
  }

  // A fading glow where others changed boxes in the last few seconds; returns how many glow.
  drawOthers(now) {
    const context = this.context;
    const binsPerRow = Math.ceil(this.mapColumns / this.binColumns);
    const width = this.binColumns * this.cellWidth;
    const height = this.binRows * this.cellHeight;
    context.fillStyle = this.colors.live;
    for (const [bin, at] of this.others) {
      const age = now - at;
      if (age > LIVE_FADE_MS) {
        this.others.delete(bin);
        continue;
      }
      context.globalAlpha = 0.6 * (1 - age / LIVE_FADE_MS);
      const x = this.left + (bin % binsPerRow) * width;
      const y = Math.floor(bin / binsPerRow) * height;
      context.fillRect(x - 1, y - 1, width + 2, height + 2);
    }
    context.globalAlpha = 1;
    return this.others.size;
  }

  // The player's own changes: a mark in their colour, bigger than a cell, fading out.
  drawMine(now) {
    const context = this.context;
    const side = Math.max(OWN_MARK_PX, this.cellWidth);
    context.fillStyle = this.colors.own;
    for (const [cell, at] of this.mine) {
      const age = now - at;
      if (age > OWN_FADE_MS) {
        this.mine.delete(cell);
        continue;
      }
      // Full colour for the first few seconds, so the player sees where it landed.
      context.globalAlpha = Math.min(1, 1.25 * (1 - age / OWN_FADE_MS));
      const x = this.left + ((cell % this.mapColumns) + 0.5) * this.cellWidth;
      const y = (Math.floor(cell / this.mapColumns) + 0.5) * this.cellHeight;
      // Kept whole on the canvas, even for the very first or last boxes.
      const left = Math.max(this.left, Math.min(x - side / 2, this.left + this.area - side));
      const top = Math.max(0, Math.min(y - side / 2, this.mapRows * this.cellHeight - side));
      context.fillRect(left, top, side, side);
    }
    context.globalAlpha = 1;
    return this.mine.size;
  }

  drawMarks() {
    if (!this.marks.length) return;
    const context = this.context;
    context.fillStyle = this.colors.label;
    context.font = "10px system-ui, sans-serif";
    context.textAlign = "right";
    context.textBaseline = "top";
    const right = this.left - BAND_MARGIN_PX;
    for (const { label, y } of this.marks) {
      context.fillRect(right - 4, y, 4, 1);
      context.fillText(label, right - 6, Math.max(0, y - 5));
    }
  }

  // Big cells (small boards) read better as separate squares.
  drawGaps() {
    const context = this.context;
    const height = this.mapRows * this.cellHeight;
    context.fillStyle = this.colors.gap;
    for (let column = 1; column < this.mapColumns; column++) {
      context.fillRect(this.left + column * this.cellWidth - 0.5, 0, 1, height);
    }
    for (let row = 1; row < this.mapRows; row++) {
      context.fillRect(this.left, row * this.cellHeight - 0.5, this.area, 1);
    }
  }

  drawBand(width) {
    const firstRow = Math.floor(this.cellOf(this.view.first) / this.mapColumns);
    const lastRow = Math.floor(this.cellOf(this.view.last) / this.mapColumns);
    let top = firstRow * this.cellHeight;
    let height = (lastRow - firstRow + 1) * this.cellHeight;
    if (height < MIN_BAND_PX) {
      top -= (MIN_BAND_PX - height) / 2;
      height = MIN_BAND_PX;
    }
    top = Math.max(1, Math.min(top, this.mapRows * this.cellHeight - height - 1));
    // Brackets in the margins either side: nothing under the band is covered.
    const context = this.context;
    context.fillStyle = this.colors.band;
    const bracket = (x, inward) => {
      context.fillRect(x, top, 2, height);
      context.fillRect(Math.min(x, x + inward), top, Math.abs(inward) + 2, 2);
      context.fillRect(Math.min(x, x + inward), top + height - 2, Math.abs(inward) + 2, 2);
    };
    bracket(this.left - BAND_MARGIN_PX, BAND_MARGIN_PX - 3);
    bracket(width - 2, 3 - BAND_MARGIN_PX);
  }

  // -- finding space ------------------------------------------------------------

  // The emptiest stretch of the board at least `boxes` long: `{index, checked}`
  // with its first box and how many boxes in it are checked, or null while
  // the board is loading. Ties (usually: many empty stretches) are broken at
  // random so that new players spread out.
  emptySpot(boxes) {
    if (!this.bits() || !this.cells) return null;
    if (this.dirtyAll || this.dirty.size) this.draw();
    const width = Math.max(1, Math.min(this.cells, Math.ceil(boxes / this.per)));
    let checked = 0;
    for (let cell = 0; cell < width; cell++) checked += this.counts[cell];
    let fewest = checked;
    let starts = [0];
    for (let start = 1; start + width <= this.cells; start++) {
      checked += this.counts[start + width - 1] - this.counts[start - 1];
      if (checked < fewest) {
        fewest = checked;
        starts = [start];
      } else if (checked === fewest) {
        starts.push(start);
      }
    }
    const start = starts[Math.floor(Math.random() * starts.length)];
    return { index: start * this.per, checked: fewest };
  }

  // -- pointer and keyboard -----------------------------------------------------

  pointerDown(event) {
    if (event.button !== 0) return;
    event.preventDefault();
    this.canvas.focus({ preventScroll: true });
    this.canvas.setPointerCapture(event.pointerId);
    this.dragging = true;
    this.jumpTo(event);
  }

  pointerMove(event) {
    if (this.dragging) this.jumpTo(event);
  }

  pointerUp(event) {
    if (!this.dragging) return;
    this.dragging = false;
    this.canvas.releasePointerCapture(event.pointerId);
  }

  // Drags fire faster than frames: jump once per frame, to the latest point.
  jumpTo(event) {
    const box = this.canvas.getBoundingClientRect();
    const x = event.clientX - box.left - this.canvas.clientLeft;
    const y = event.clientY - box.top - this.canvas.clientTop;
    this.pendingJump = this.indexAt(x, y);
    if (this.jumpFrame) return;
    this.jumpFrame = requestAnimationFrame(() => {
      this.jumpFrame = 0;
      this.onJump(this.pendingJump, { center: true });
    });
  }

  keydown(event) {
    const next = this.keyTarget(event.key);
    if (next === null) return;
    event.preventDefault();
    this.onJump(Math.max(0, Math.min(this.size - 1, next)), { center: false });
  }

  // Down and right go further into the board, as reading does.
  keyTarget(key) {
    const at = this.view.first;
    const tenth = Math.max(this.step, Math.floor(this.size / 10));
    switch (key) {
      case "ArrowDown":
      case "ArrowRight":
        return at + this.step;
      case "ArrowUp":
      case "ArrowLeft":
        return at - this.step;
      case "PageDown":
        return at + tenth;
      case "PageUp":
        return at - tenth;
      case "Home":
        return 0;
      case "End":
        return this.size - 1;
      default:
        return null;
    }
  }

  describe(first) {
    const percent = this.size > 1 ? Math.round((100 * first) / (this.size - 1)) : 0;
    this.canvas.setAttribute("aria-valuenow", first);
    this.canvas.setAttribute("aria-valuetext", `Box ${numbers.format(first)}, ${percent}% of the way down`);
  }
}

// The map's colours come from the stylesheet (--map-* custom properties), so
// they follow the light or dark theme.
function readColors(canvas) {
  const style = getComputedStyle(canvas);
  const value = (name) => style.getPropertyValue(name).trim();
  return {
    empty: rgb(value("--map-empty")),
    full: rgb(value("--map-full")),
    gap: value("--map-gap"),
    band: value("--map-band"),
    own: value("--map-own"),
    live: value("--map-live"),
    label: value("--map-label"),
  };
}

// A step of 1, 2 or 5 times a power of ten, at least `rough`.
function niceStep(rough) {
  const power = 10 ** Math.floor(Math.log10(Math.max(1, rough)));
  for (const factor of [1, 2, 5, 10]) if (factor * power >= rough) return factor * power;
  return 10 * power;
}

// 250000 as "250k", 1500000 as "1.5M": labels that fit a narrow margin.
function shortNumber(value) {
  if (value >= 1_000_000) return `${+(value / 1_000_000).toFixed(1)}M`;
  if (value >= 1_000) return `${+(value / 1_000).toFixed(1)}k`;
  return String(value);
}

// Any CSS colour as [r, g, b], by painting one pixel with it (zoom.js too).
export function rgb(color) {
  const probe = document.createElement("canvas");
  probe.width = probe.height = 1;
  const context = probe.getContext("2d", { willReadFrequently: true });
  context.fillStyle = color;
  context.fillRect(0, 0, 1, 1);
  return Array.from(context.getImageData(0, 0, 1, 1).data.slice(0, 3));
}
