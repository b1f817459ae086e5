// A virtualised grid of real checkboxes: only the rows in view (plus a few
// either side) exist in the DOM, and the column count follows the width.
//
// A row element keeps its board row for as long as that row stays near the
// view, and sits at the row's own place in the scrolled content, so scrolling
// is the browser's own: only rows coming into view are refilled and moved
// (from one end of the DOM to the other, so reading order stays visual order).
//
// Keyboard: one box at a time is the grid's tab stop (roving tabindex); arrow
// keys, Home/End and PageUp/PageDown move it, scrolling as needed, and Space
// toggles it as any checkbox does. The rows are recycled as the view scrolls,
// so focus is moved to whichever element shows the active box after each render.

const OVERSCAN = 4;
// Browsers cap element heights (about 33 million px in Chromium); past this
// the scroll range is compressed so any board size still fits.
const MAX_SCROLL_PX = 8_000_000;
const TARGET_MS = 2400;

const numbers = new Intl.NumberFormat("en-US");

export class Grid {
  // `onRender` is called after every render, when the range in view may have
  // moved; `onBlocked(index)` when a disabled box is pressed.
  constructor({ viewport, spacer, rows, size, valueAt, onToggle, onRender = () => {}, onBlocked = () => {} }) {
    this.viewport = viewport;
    this.spacer = spacer;
    this.rowsEl = rows;
    this.size = size;
    this.valueAt = valueAt;
    this.onToggle = onToggle;
    this.onRender = onRender;
    this.onBlocked = onBlocked;
    this.cell = 28;
    this.inset = 0;
    this.columns = 1;
    this.rowCount = 1;
    this.scale = 1;
    this.firstRow = 0;
    this.pool = [];
    this.frame = 0;
    this.disabled = false;
    this.active = 0;
    this.target = -1;
    this.scrollTop = 0;
    this.viewHeight = 0;
    this.anchor = 0;
    this.targetTimer = 0;
    rows.addEventListener("click", (event) => this.clicked(event));
    rows.addEventListener("change", (event) => this.changed(event));
    rows.addEventListener("keydown", (event) => this.keydown(event));
    rows.addEventListener("focusin", (event) => this.focused(event));
    viewport.addEventListener("scroll", () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.layout()).observe(viewport);
  }

  layout() {
    // Keep the box the view was last sent to in the top row if it still is
    // there (a link's box stays put when a phone turns), else the top-left box.
    const top = this.anchorInTopRow() ? this.anchor : this.topLeftBox();
    const width = this.viewport.clientWidth;
    // The cell size is the stylesheet's: bigger on touch screens.
    const style = getComputedStyle(this.rowsEl);
    this.cell = parseFloat(style.getPropertyValue("--cell")) || 28;
    // Room above the first row, so a row scrolled to the top (a jump's
    // target, a link's box) sits clear of the header with its ring whole.
    this.inset = parseFloat(style.getPropertyValue("--inset")) || 0;
    this.columns = Math.max(1, Math.floor(width / this.cell));
    this.rowCount = Math.ceil(this.size / this.columns);
    const height = this.rowCount * this.cell;
    this.scale = height > MAX_SCROLL_PX ? height / MAX_SCROLL_PX : 1;
    this.spacer.style.height = `${Math.min(height, MAX_SCROLL_PX) + this.inset}px`;
    this.rowsEl.style.setProperty("--columns", this.columns);
    this.rowsEl.style.setProperty("--gutter", `${Math.floor((width - this.columns * this.cell) / 2)}px`);
    this.viewHeight = this.viewport.clientHeight;
    const visible = Math.ceil(this.viewHeight / this.cell) + 2 * OVERSCAN;
    this.buildPool(Math.min(visible, this.rowCount));
    this.scrollToBox(top, false);
    this.render();
  }

  buildPool(count) {
    const hadFocus = this.hasFocus();
    this.rowsEl.replaceChildren();
    this.pool = [];
    for (let r = 0; r < count; r++) {
      const row = document.createElement("div");
      row.className = "row";
      const boxes = [];
      for (let c = 0; c < this.columns; c++) {
        const box = document.createElement("input");
        box.type = "checkbox";
        box.className = "box";
        box.tabIndex = -1;
        row.append(box);
        boxes.push(box);
      }
      this.rowsEl.append(row);
      this.pool.push({ row, boxes, index: -1, y: null });
    }
    this.firstRow = 0;
    this.refocusAfterRender = hadFocus;
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  render() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    const hadFocus = this.hasFocus() || this.refocusAfterRender;
    this.refocusAfterRender = false;
    // Read the scroll position once, before any write: reading it after one
    // would force the browser to lay out the whole grid again mid-frame.
    const top = this.viewport.scrollTop;
    this.scrollTop = top;
    const contentTop = top * this.scale;
    const first = Math.max(0, Math.min(Math.floor(contentTop / this.cell) - OVERSCAN, this.rowCount - this.pool.length));
    this.placeRows(first, contentTop - top);
    const { first: firstInView, last: lastInView } = this.rangeInView();
    // The tab stop follows the view when the player scrolls it away.
    if (this.active < firstInView || this.active > lastInView) this.setActive(firstInView);
    if (hadFocus) this.focusActive();
    this.onRender();
  }

  // Give the pool rows `first` … `first + pool.length - 1`, refilling only
  // the slots whose row changed. `lift` is how far a compressed scroll range
  // (very large boards) has moved the content up.
  placeRows(first, lift) {
    const count = this.pool.length;
    if (!count) return;
    const shift = first - this.firstRow;
    if (this.pool[0].index === -1 || Math.abs(shift) >= count) {
      this.pool.forEach((slot, r) => this.fillRow(slot, first + r));
    } else if (shift > 0) {
      const moved = this.pool.splice(0, shift);
      for (const slot of moved) this.rowsEl.append(slot.row);
      this.pool.push(...moved);
      moved.forEach((slot, k) => this.fillRow(slot, first + count - shift + k));
    } else if (shift < 0) {
      const moved = this.pool.splice(count + shift);
      for (let k = moved.length - 1; k >= 0; k--) this.rowsEl.prepend(moved[k].row);
      this.pool.unshift(...moved);
      moved.forEach((slot, k) => this.fillRow(slot, first + k));
    }
    this.firstRow = first;
    for (const slot of this.pool) {
      const y = slot.index * this.cell - lift;
      if (slot.y === y) continue;
      slot.y = y;
      slot.row.style.transform = `translateY(${y}px)`;
    }
  }

  fillRow(slot, rowIndex) {
    const start = rowIndex * this.columns;
    const full = slot.index !== rowIndex;
    slot.index = rowIndex;
    for (let c = 0; c < slot.boxes.length; c++) {
      const box = slot.boxes[c];
      const index = start + c;
      if (index >= this.size) {
        box.hidden = true;
        continue;
      }
      if (full) {
        box.hidden = false;
        box.dataset.index = index;
        box.setAttribute("aria-label", `Box ${numbers.format(index)}`);
      }
      // Only what differs is written: each write to a box costs style work.
      const checked = this.valueAt(index) === 1;
      if (box.checked !== checked) box.checked = checked;
      const tabIndex = index === this.active ? 0 : -1;
      if (box.tabIndex !== tabIndex) box.tabIndex = tabIndex;
      const disabled = this.disabled ? "true" : null;
      if (box.ariaDisabled !== disabled) box.ariaDisabled = disabled;
      const target = index === this.target;
      if (box.classList.contains("is-target") !== target) box.classList.toggle("is-target", target);
    }
  }

  // Re-read one box if it is on screen.
  refresh(index) {
    const box = this.boxElement(index);
    if (box) box.checked = this.valueAt(index) === 1;
  }

  refreshAll() {
    for (const slot of this.pool) this.fillRow(slot, slot.index);
  }

  setDisabled(disabled) {
    this.disabled = disabled;
    this.refreshAll();
  }

  // Disabled boxes stay focusable (aria-disabled, not the disabled attribute)
  // so a frozen board can still be browsed from the keyboard; pressing one
  // is cancelled here, which keeps its checked state as it was.
  clicked(event) {
    const box = event.target;
    if (!this.disabled || !box.classList.contains("box")) return;
    event.preventDefault();
    this.onBlocked(Number(box.dataset.index));
  }

  changed(event) {
    const box = event.target;
    if (!box.classList.contains("box")) return;
    this.onToggle(Number(box.dataset.index), box.checked ? 1 : 0);
  }

  boxElement(index) {
    if (index < 0 || index >= this.size) return null;
    const slot = this.pool[Math.floor(index / this.columns) - this.firstRow];
    return slot ? slot.boxes[index % this.columns] : null;
  }

  // -- the view's place on the board ----------------------------------------

  // A row counts as in view when at least half of it is: the sliver of
  // the row above the top one (the inset) does not, so a row scrolled to the
  // top is the first one in view, as the URL says.
  firstRowFrom(scrollTop) {
    const contentTop = scrollTop * this.scale - this.inset;
    return Math.max(0, Math.ceil(contentTop / this.cell - 0.5));
  }

  topLeftBox() {
    return Math.min(this.size - 1, this.firstRowFrom(this.viewport.scrollTop) * this.columns);
  }

  // First and last boxes in view, as of the last render.
  rangeInView() {
    const contentTop = this.scrollTop * this.scale - this.inset;
    const firstRow = this.firstRowFrom(this.scrollTop);
    const lastRow = Math.max(firstRow, Math.ceil((contentTop + this.viewHeight) / this.cell - 0.5) - 1);
    return {
      first: Math.min(this.size - 1, firstRow * this.columns),
      last: Math.min(this.size - 1, (lastRow + 1) * this.columns - 1),
    };
  }

  get boxesInView() {
    return Math.floor(this.viewHeight / this.cell) * this.columns;
  }

  scrollToBox(index, render = true) {
    this.anchor = this.clamp(index);
    const row = Math.floor(this.anchor / this.columns);
    this.viewport.scrollTop = Math.ceil((row * this.cell) / this.scale);
    if (render) this.render();
  }

  anchorInTopRow() {
    return Math.floor(this.anchor / this.columns) === Math.floor(this.topLeftBox() / this.columns);
  }

  // Scroll by as little as possible to show the whole row of `index`.
  scrollIntoView(index) {
    const rowTop = Math.floor(index / this.columns) * this.cell;
    const viewTop = this.viewport.scrollTop * this.scale;
    const height = this.viewport.clientHeight;
    if (rowTop < viewTop) {
      this.viewport.scrollTop = Math.floor(rowTop / this.scale);
    } else if (rowTop + this.cell + this.inset > viewTop + height) {
      this.viewport.scrollTop = Math.ceil((rowTop + this.cell + this.inset - height) / this.scale);
    }
    this.render();
  }

  // Mark a box for a moment (after a jump or an opened link) so the eye finds it.
  highlight(index) {
    // A second jump to the same box pulses it again: the animation restarts
    // only if the class goes and comes back with a style pass between.
    const box = this.boxElement(index);
    if (box && box.classList.contains("is-target")) {
      box.classList.remove("is-target");
      void box.offsetWidth;
    }
    this.target = index;
    this.refreshAll();
    clearTimeout(this.targetTimer);
    this.targetTimer = setTimeout(() => {
      this.target = -1;
      this.refreshAll();
    }, TARGET_MS);
  }

  clamp(index) {
    return Math.max(0, Math.min(index, this.size - 1));
  }

  // -- keyboard -------------------------------------------------------------

  hasFocus() {
    return this.rowsEl.contains(document.activeElement);
  }

  focused(event) {
    const box = event.target;
    if (!box.classList.contains("box")) return;
    this.setActive(Number(box.dataset.index));
  }

  setActive(index) {
    if (index === this.active) return;
    const old = this.boxElement(this.active);
    if (old) old.tabIndex = -1;
    this.active = index;
    const box = this.boxElement(index);
    if (box) box.tabIndex = 0;
  }

  focusActive() {
    const box = this.boxElement(this.active);
    if (box && document.activeElement !== box) box.focus({ preventScroll: true });
  }

  // Move the tab stop to `index`, scroll it into view and focus it.
  moveTo(index) {
    this.setActive(this.clamp(index));
    this.scrollIntoView(this.active);
    this.focusActive();
  }

  keydown(event) {
    if (!event.target.classList.contains("box") || event.altKey || event.metaKey) return;
    const next = this.keyTarget(event.key, event.ctrlKey);
    if (next === null) return;
    event.preventDefault();
    this.moveTo(next);
  }

  keyTarget(key, ctrl) {
    const at = this.active;
    const rowStart = at - (at % this.columns);
    const page = Math.max(1, Math.floor(this.viewport.clientHeight / this.cell) - 1) * this.columns;
    switch (key) {
      case "ArrowLeft":
        return at - 1;
      case "ArrowRight":
        return at + 1;
      case "ArrowUp":
        return at - this.columns >= 0 ? at - this.columns : at;
      case "ArrowDown":
        return at + this.columns < this.size ? at + this.columns : at;
      case "Home":
        return ctrl ? 0 : rowStart;
      case "End":
        return ctrl ? this.size - 1 : rowStart + this.columns - 1;
      case "PageUp":
        return at - page >= 0 ? at - page : at % this.columns;
      case "PageDown":
        return at + page < this.size ? at + page : this.size - 1;
      default:
        return null;
    }
  }
}
