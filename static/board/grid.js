// A virtualised grid of real checkboxes: only the rows in view (plus a few
// either side) exist in the DOM, and the column count follows the width.

const CELL = 28;
const OVERSCAN = 4;
// Browsers cap element heights (about 33 million px in Chromium); past this
// the scroll range is compressed so any board size still fits.
const MAX_SCROLL_PX = 8_000_000;

const numbers = new Intl.NumberFormat("en-US");

export class Grid {
  constructor({ viewport, spacer, rows, size, valueAt, onToggle }) {
    this.viewport = viewport;
    this.spacer = spacer;
    this.rowsEl = rows;
    this.size = size;
    this.valueAt = valueAt;
    this.onToggle = onToggle;
    this.columns = 1;
    this.rowCount = 1;
    this.scale = 1;
    this.firstRow = 0;
    this.pool = [];
    this.frame = 0;
    this.disabled = false;
    rows.addEventListener("change", (event) => this.changed(event));
    viewport.addEventListener("scroll", () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.layout()).observe(viewport);
  }

  get cell() {
    return CELL;
  }

  layout() {
    const top = this.topLeftBox();
    const width = this.viewport.clientWidth;
    this.columns = Math.max(1, Math.floor(width / CELL));
    this.rowCount = Math.ceil(this.size / this.columns);
    const height = this.rowCount * CELL;
    this.scale = height > MAX_SCROLL_PX ? height / MAX_SCROLL_PX : 1;
    this.spacer.style.height = `${Math.min(height, MAX_SCROLL_PX)}px`;
    this.rowsEl.style.setProperty("--columns", this.columns);
    const visible = Math.ceil(this.viewport.clientHeight / CELL) + 2 * OVERSCAN;
    this.buildPool(Math.min(visible, this.rowCount));
    this.scrollToBox(top, false);
    this.render();
  }

  buildPool(count) {
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
        row.append(box);
        boxes.push(box);
      }
      this.rowsEl.append(row);
      this.pool.push({ row, boxes, index: -1 });
    }
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  render() {
    this.frame = 0;
    const top = this.viewport.scrollTop;
    const contentTop = top * this.scale;
    const first = Math.max(0, Math.min(Math.floor(contentTop / CELL) - OVERSCAN, this.rowCount - this.pool.length));
    this.firstRow = first;
    const offset = top - (contentTop - first * CELL);
    this.rowsEl.style.transform = `translateY(${offset}px)`;
    for (let r = 0; r < this.pool.length; r++) this.fillRow(this.pool[r], first + r);
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
      box.checked = this.valueAt(index) === 1;
      box.disabled = this.disabled;
    }
  }

  // Re-read one box if it is on screen.
  refresh(index) {
    const slot = this.pool[Math.floor(index / this.columns) - this.firstRow];
    if (!slot) return;
    const box = slot.boxes[index % this.columns];
    box.checked = this.valueAt(index) === 1;
  }

  refreshAll() {
    for (const slot of this.pool) this.fillRow(slot, slot.index);
  }

  setDisabled(disabled) {
    this.disabled = disabled;
    this.rowsEl.classList.toggle("is-disabled", disabled);
    this.refreshAll();
  }

  changed(event) {
    const box = event.target;
    if (!box.classList.contains("box")) return;
    this.onToggle(Number(box.dataset.index), box.checked ? 1 : 0);
  }

  boxElement(index) {
    const slot = this.pool[Math.floor(index / this.columns) - this.firstRow];
    return slot ? slot.boxes[index % this.columns] : null;
  }

  topLeftBox() {
    const row = Math.floor((this.viewport.scrollTop * this.scale) / CELL);
    return Math.min(this.size - 1, row * this.columns);
  }

  scrollToBox(index, render = true) {
    const row = Math.floor(Math.max(0, Math.min(index, this.size - 1)) / this.columns);
    this.viewport.scrollTop = Math.ceil((row * CELL) / this.scale);
    if (render) this.render();
  }
}
