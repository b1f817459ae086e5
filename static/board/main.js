// Wires the page together: the grid, the minimap, the live state, the socket
// and the chrome around them (counter, players, tally, connection, jump box,
// links, messages).

import { BoxLabel } from "./boxlabel.js";
import { Connection } from "./connection.js";
import { Grid } from "./grid.js";
import { Announcer, Notice, Toast } from "./messages.js";
import { Minimap } from "./minimap.js";
import { boxFromHash, copyText, linkToBox, parseBoxNumber, rememberBox, zoomFromHash } from "./position.js";
import { refusalMessage, Status } from "./protocol.js";
import { BoardSync } from "./sync.js";
import { Tally } from "./tally.js";

const config = JSON.parse(document.getElementById("board-config").textContent);
const numbers = new Intl.NumberFormat("en-US");

const el = {
  count: document.getElementById("count"),
  size: document.getElementById("board-size"),
  players: document.getElementById("players"),
  playersLabel: document.getElementById("players-label"),
  connection: document.getElementById("connection"),
  tallyChecked: document.getElementById("tally-checked"),
  tallyUnchecked: document.getElementById("tally-unchecked"),
  banner: document.getElementById("frozen-banner"),
  toast: document.getElementById("toast"),
  announcer: document.getElementById("announcer"),
  landed: document.getElementById("landed"),
  jump: document.getElementById("jump"),
  jumpTo: document.getElementById("jump-to"),
  jumpMessage: document.getElementById("jump-message"),
  copyLink: document.getElementById("copy-link"),
  findEmpty: document.getElementById("find-empty"),
  viewport: document.getElementById("viewport"),
  spacer: document.getElementById("spacer"),
  rows: document.getElementById("rows"),
  minimap: document.getElementById("minimap"),
  place: document.getElementById("place"),
  boxLabel: document.getElementById("box-label"),
  board: document.querySelector(".board"),
  zoomOut: document.getElementById("zoom-out"),
  zoomIn: document.getElementById("zoom-in"),
  zoomLevel: document.getElementById("zoom-level"),
};

const CONNECTION_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  gone: "Board not found",
  deleted: "This board was deleted",
};

const toast = new Toast(el.toast);
const announcer = new Announcer(el.announcer);
const notice = new Notice(el.landed);
const tally = new Tally(config.slug, showTally);

function showConnection(state) {
  el.connection.dataset.state = state;
  el.connection.textContent = CONNECTION_TEXT[state] || state;
}

let countShown = false;

function showCount(count) {
  el.count.textContent = numbers.format(count);
  // The count the page opens with is on screen already: only changes are said.
  if (countShown) announcer.say(`${numbers.format(count)} of ${numbers.format(config.size)} boxes checked`);
  countShown = true;
}

function showPlayers(count) {
  el.players.textContent = numbers.format(count);
  el.playersLabel.textContent = count === 1 ? "player" : "players";
}

function showTally({ checked, unchecked }) {
  el.tallyChecked.textContent = numbers.format(checked);
  el.tallyUnchecked.textContent = numbers.format(unchecked);
}

function showRefusal(status, waitMs) {
  toast.show(refusalMessage(status, waitMs), "refused");
}

function showPlace({ first, last } = grid.rangeInView()) {
  boxLabel.place();
  const text = `Boxes ${numbers.format(first)}–${numbers.format(last)} of ${numbers.format(config.size)}`;
  if (el.place.textContent === text) return;
  el.place.textContent = text;
  minimap.showView(first, last);
}

const view = {
  changed: (index) => {
    grid.refresh(index);
    minimap.changed(index);
    if (zoom) zoom.changed(index);
  },
  reset: () => {
    grid.refreshAll();
    minimap.reset();
    if (zoom) zoom.reset();
  },
  counted: showCount,
  confirmed: (index, value) => {
    tally.record(value);
    minimap.own(index);
  },
  refused: (index, status, waitMs) => {
    grid.refresh(index);
    showRefusal(status, waitMs);
  },
  frozen: (frozen) => {
    el.banner.hidden = !frozen;
    grid.setDisabled(frozen);
  },
  players: showPlayers,
  live: (live) => showConnection(live ? "live" : "reconnecting"),
};

const sync = new BoardSync({ size: config.size, stateUrl: config.stateUrl, view });

const minimap = new Minimap({
  canvas: el.minimap,
  size: config.size,
  bits: () => sync.bits,
  onJump: (index, { center }) => {
    if (zoom && zoom.active) zoom.scrollToBox(index, center ? zoom.middle : null);
    else goTo(center ? index - Math.floor(grid.boxesInView / 2) : index);
  },
});

const boxLabel = new BoxLabel({ label: el.boxLabel, rows: el.rows, viewport: el.viewport });

const grid = new Grid({
  viewport: el.viewport,
  spacer: el.spacer,
  rows: el.rows,
  size: config.size,
  valueAt: (index) => sync.valueAt(index),
  onToggle: (index, value) => {
    const refusal = sync.set(index, value);
    grid.refresh(index);
    if (refusal !== null) showRefusal(refusal);
  },
  onRender: () => {
    if (!zoom || !zoom.active) showPlace();
  },
  onBlocked: () => showRefusal(Status.FROZEN),
});

const connection = new Connection(config.socketPath, {
  hello: (message) => sync.hello(message),
  beacon: (message) => sync.beacon(message),
  update: (runs) => sync.update(runs),
  results: (result) => sync.results(result),
  resync: () => sync.resync(),
  frozen: (message) => sync.setFrozen(message.frozen),
  error: (message) => toast.show(message.message, "refused"),
  pong: () => {},
  status: (state) => {
    if (state !== "live") sync.disconnected();
    showConnection(state);
  },
});
sync.connection = connection;

// -- the place on the board: #12345 is the box at the top left -------------

// Jump so that `index` is in the top row; `mark` also names it in the URL and
// rings it for a moment (a jump the player asked for, or a link they opened).
function goTo(index, { mark = false } = {}) {
  if (zoom && zoom.active && !mark) {
    zoom.scrollToBox(index);
    return;
  }
  if (zoom && zoom.active) zoom.pick(index);
  grid.scrollToBox(index);
  if (!mark) return;
  rememberBox(index);
  grid.highlight(index);
}

// The URL follows the view. A link's own box stays in it while that box is
// still in the top row, so a shared link reads the same on every screen width.
function keepPlace() {
  const top = grid.topLeftBox();
  const linked = boxFromHash(location.hash, config.size);
  if (linked !== null && Math.floor(linked / grid.columns) === Math.floor(top / grid.columns)) return linked;
  rememberBox(top);
  return top;
}

let placeTimer = 0;
el.viewport.addEventListener(
  "scroll",
  () => {
    clearTimeout(placeTimer);
    placeTimer = setTimeout(keepPlace, 250);
  },
  { passive: true },
);

addEventListener("hashchange", () => {
  const index = boxFromHash(location.hash, config.size);
  if (index === null) return;
  const px = zoomFromHash(location.hash);
  if (px) withZoom((zoom) => zoom.show(px, index));
  else goTo(index, { mark: true });
});

// A jump or an empty spot the player asked for: the box is ringed, focused
// (so the keyboard carries on from there) and its number said.
function land(index) {
  goTo(index, { mark: true });
  grid.setActive(index);
  grid.focusActive();
  notice.say(`Box ${numbers.format(index)}`);
}

function showJumpError(error) {
  el.jumpMessage.textContent = error;
  el.jumpTo.ariaInvalid = error ? "true" : null;
}

el.jump.addEventListener("submit", (event) => {
  event.preventDefault();
  const { index, error } = parseBoxNumber(el.jumpTo.value, config.size);
  showJumpError(error || "");
  if (error) el.jumpTo.focus();
  else land(index);
});

el.jumpTo.addEventListener("input", () => showJumpError(""));

el.copyLink.addEventListener("click", async () => {
  const link = zoom && zoom.active ? linkToBox(zoom.topLeftBox(), zoom.px) : linkToBox(keepPlace());
  const copied = await copyText(link);
  toast.show(copied ? `Link copied: ${link}` : `Copy this link: ${link}`);
});

el.findEmpty.addEventListener("click", () => {
  const spot = minimap.emptySpot(grid.boxesInView);
  if (spot === null) {
    toast.show("The board is still loading.");
    return;
  }
  land(spot.index);
  if (spot.checked > 0) toast.show("No empty stretch is left: this is the emptiest one.");
});

// -- zoom: zoom.js loads on first use, so a first visit doesn't pay for it --

let zoom = null;
let zoomLoading = null;

function withZoom(use) {
  zoomLoading ||= import("./zoom.js").then(({ Zoom }) => {
    zoom = new Zoom({
      board: el.board,
      viewport: el.viewport,
      grid,
      sync,
      size: config.size,
      onPick: zoomedIn,
      onPlace: (first, last) => showPlace({ first, last }),
      onLevel: showZoom,
    });
    return zoom;
  });
  zoomLoading.then(use);
}

// Back to the real boxes with box `index` `offset` px below the top of the
// view (or in its middle), so that zooming in keeps it under the pointer.
function zoomedIn(index, { focus, offset }) {
  const rows = offset === null ? Math.floor(grid.boxesInView / grid.columns / 2) : Math.floor(offset / grid.cell);
  grid.scrollToBox(Math.max(0, index - rows * grid.columns));
  keepPlace();
  grid.highlight(index);
  grid.setActive(index);
  if (focus) grid.focusActive();
}

// The control's steps: 0 … 3 are 1, 2, 4 and 8 px per box, 4 the real boxes.
const ZOOM_STEPS = [1, 2, 4, 8, 0];

function showZoom(px) {
  const step = ZOOM_STEPS.indexOf(px);
  el.zoomLevel.value = step;
  const text = px ? `${px} px per box` : "Real boxes";
  el.zoomLevel.setAttribute("aria-valuetext", text);
  el.zoomIn.disabled = px === 0;
  el.zoomOut.disabled = px === 1;
}

el.zoomOut.addEventListener("click", () => withZoom((zoom) => zoom.zoomOut()));
el.zoomIn.addEventListener("click", () => withZoom((zoom) => zoom.zoomIn()));
el.zoomLevel.addEventListener("input", () => {
  const px = ZOOM_STEPS[Number(el.zoomLevel.value)];
  withZoom((zoom) => zoom.show(px, zoom.currentBox()));
});
el.viewport.addEventListener(
  "wheel",
  (event) => {
    if (!event.ctrlKey) return;
    // Not the browser's page zoom: the board's.
    event.preventDefault();
    const { clientX, clientY, deltaY } = event;
    withZoom((zoom) => {
      const { anchor, offset } = zoom.anchorAt({ clientX, clientY });
      zoom.wheelAt(deltaY, anchor, offset);
    });
  },
  { passive: false },
);
// A pinch on the real grid: load the zoom, whose own listeners follow the fingers.
el.viewport.addEventListener("touchstart", (event) => event.touches.length === 2 && withZoom(() => {}), {
  passive: true,
});

el.size.textContent = numbers.format(config.size);
showTally(tally.read());
grid.layout();
const start = boxFromHash(location.hash, config.size);
const startZoom = zoomFromHash(location.hash);
if (start !== null) goTo(start, { mark: true });
if (start !== null && startZoom) withZoom((zoom) => zoom.show(startZoom, start));
showZoom(0);
connection.open();

// For tests and curious players: the live objects, read-only by convention
// (`zoom` once zoom.js has loaded).
window.checkboxes = {
  sync,
  grid,
  minimap,
  connection,
  tally,
  get zoom() {
    return zoom;
  },
};
