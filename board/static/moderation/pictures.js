// Admin board pictures that zoom: pressing a part of the overview (or naming a box) shows the
// region around it at 1 to 8 pixels per box, drawn by the picture's zoom.png view (board/admin.py).

const SCALES = [1, 2, 4, 8];
// The zoomed picture is about this many pixels a side, whatever its scale.
const VIEW = 800;

const number = (n) => n.toLocaleString("en");

// The region's boxes in words, as pictures.Region.label says them.
function label(region, size, width) {
  const bottom = region.top + region.rows - 1;
  let last = bottom * width + region.left + region.columns - 1;
  if (last >= size) last = size - 1 >= bottom * width + region.left ? size - 1 : last - width;
  const first = region.top * width + region.left;
  const text = `Boxes ${number(first)}–${number(last)}`;
  if (region.columns === width) return text;
  return `${text}: ${number(region.columns)} boxes of each row of ${number(width)}, ${number(region.rows)} rows`;
}

const clamp = (value, low, high) => Math.max(low, Math.min(high, value));

// The region of `scale` pixels per box centred, as far as the picture allows, on a row and column.
function regionAround(row, column, scale, board) {
  const side = Math.min(Math.floor(VIEW / scale), Math.floor(board.maxSide / scale));
  const columns = Math.min(board.width, side);
  const rows = Math.min(board.height, side);
  return {
    left: clamp(column - Math.floor(columns / 2), 0, board.width - columns),
    top: clamp(row - Math.floor(rows / 2), 0, board.height - rows),
    columns,
    rows,
    scale,
  };
}

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

function controls(board) {
  const box = element("input", { type: "number", min: "0", max: String(board.size - 1), value: "0" });
  box.className = "vTextField board-zoom-box";
  const scale = element("select");
  for (const value of SCALES.filter((s) => s <= board.maxScale)) {
    scale.append(element("option", { value: String(value) }, `${value} px per box`));
  }
  scale.value = String(Math.min(8, board.maxScale));
  const show = element("button", { type: "button", class: "button" }, "Zoom");
  const bar = element("div", { class: "board-zoom-controls" });
  const boxLabel = element("label", {}, "Box ");
  boxLabel.append(box);
  const scaleLabel = element("label", {}, "at ");
  scaleLabel.append(scale);
  bar.append(boxLabel, scaleLabel, show);
  return { bar, box, scale, show };
}

function setUp(frame) {
  const data = frame.dataset;
  const board = {
    size: Number(data.size),
    width: Number(data.width),
    height: Number(data.height),
    factor: Number(data.factor),
    maxScale: Number(data.maxScale),
    maxSide: Number(data.maxSide),
  };
  const overview = frame.querySelector("img.board-picture");
  const { bar, box, scale, show } = controls(board);
  const figure = element("figure", { class: "board-zoom", hidden: "" });
  const caption = element("figcaption", { "aria-live": "polite" });
  const picture = element("img", { class: "board-zoom-picture", alt: "" });
  figure.append(caption, picture);
  frame.append(bar, figure);

  function zoomAt(row, column) {
    const region = regionAround(row, column, Number(scale.value), board);
    const query = new URLSearchParams(Object.entries(region).map(([k, v]) => [k, String(v)]));
    const words = label(region, board.size, board.width);
    picture.src = `${data.zoom}?${query}`;
    picture.width = region.columns * region.scale;
    picture.height = region.rows * region.scale;
    picture.alt = `${overview.alt}, ${words}`;
    caption.textContent = `${words}, ${region.scale} px per box`;
    figure.hidden = false;
  }

  function zoomToBox() {
    const index = clamp(Math.floor(Number(box.value) || 0), 0, board.size - 1);
    zoomAt(Math.floor(index / board.width), index % board.width);
  }

  overview.addEventListener("click", (event) => {
    event.preventDefault(); // the link opens the whole picture; a press zooms
    // offsetX/Y and clientWidth/Height leave out the picture's border. A pixel of a shrunk overview
    // is a block of boxes: the press means the middle of its block.
    const pixel = (offset, shown, pixels) => clamp(Math.floor((offset / shown) * pixels), 0, pixels - 1);
    const middle = (at) => at * board.factor + Math.floor(board.factor / 2);
    const across = Math.ceil(board.width / board.factor);
    const down = Math.ceil(board.height / board.factor);
    const column = Math.min(board.width - 1, middle(pixel(event.offsetX, overview.clientWidth, across)));
    const row = Math.min(board.height - 1, middle(pixel(event.offsetY, overview.clientHeight, down)));
    box.value = String(Math.min(board.size - 1, row * board.width + column));
    zoomAt(row, column);
  });
  show.addEventListener("click", zoomToBox);
  scale.addEventListener("change", () => figure.hidden || zoomToBox());
  box.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault(); // not the admin form around it
    zoomToBox();
  });
}

document.querySelectorAll(".board-zoomable").forEach(setUp);
