// The number of the box under the pointer, or else of the focused one, in a
// small label next to it. The label is for the eyes only (aria-hidden): a
// screen reader already says the focused box's name, "Box 51,234", and
// hovering must not make it speak.

const numbers = new Intl.NumberFormat("en-US");
const GAP = 4;

export class BoxLabel {
  // The grid recycles its rows: the element under the pointer shows another
  // box after a scroll, so the label keeps elements and reads their index
  // each time it is placed (the grid calls `place` after every render).
  constructor({ label, rows, viewport }) {
    this.label = label;
    this.viewport = viewport;
    this.hovered = null;
    this.focused = null;
    rows.addEventListener("pointerover", (event) => this.set("hovered", boxOf(event.target)));
    rows.addEventListener("pointerleave", () => this.set("hovered", null));
    rows.addEventListener("focusin", (event) => this.set("focused", boxOf(event.target)));
    rows.addEventListener("focusout", () => this.set("focused", null));
  }

  set(which, box) {
    this[which] = box;
    this.place();
  }

  // Put the label above its box (below it in the top row), inside the board.
  place() {
    const box = this.hovered || this.focused;
    // Nothing to show costs no layout: the grid calls this on every scroll frame.
    if (!box || box.hidden) {
      this.hide();
      return;
    }
    const at = box.getBoundingClientRect();
    const view = this.viewport.getBoundingClientRect();
    if (at.bottom <= view.top || at.top >= view.bottom) {
      this.hide();
      return;
    }
    this.label.textContent = `Box ${numbers.format(Number(box.dataset.index))}`;
    this.label.hidden = false;
    const area = this.label.offsetParent.getBoundingClientRect();
    const width = this.label.offsetWidth;
    const height = this.label.offsetHeight;
    const left = Math.min(Math.max(at.left + at.width / 2 - width / 2, view.left), view.right - width);
    const above = at.top - height - GAP;
    const top = above >= view.top ? above : at.bottom + GAP;
    this.label.style.transform = `translate(${Math.round(left - area.left)}px, ${Math.round(top - area.top)}px)`;
  }

  hide() {
    if (!this.label.hidden) this.label.hidden = true;
  }
}

function boxOf(element) {
  return element.classList.contains("box") ? element : null;
}
