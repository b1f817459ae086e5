// Wires the page together: the grid, the minimap, the live state, the socket
// and the chrome around them (counter, players, tally, connection, jump box,
// links, messages).

import { BoxLabel } from "./boxlabel.js";
import { Connection } from "./connection.js";
import { Grid } from "./grid.js";
import { Announcer, Notice, Toast } from "./messages.js";
import { Minimap } from "./minimap.js";
import { boxFromHash, copyText, linkToBox, parseBoxNumber, rememberBox } from "./position.js";
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

function showPlace() {
  boxLabel.place();
  const { first, last } = grid.rangeInView();
  const text = `Boxes ${numbers.format(first)}–${numbers.format(last)} of ${numbers.format(config.size)}`;
  if (el.place.textContent === text) return;
  el.place.textContent = text;
  minimap.showView(first, last);
}

const view = {
  changed: (index) => {
    grid.refresh(index);
    minimap.changed(index);
  },
  reset: () => {
    grid.refreshAll();
    minimap.reset();
  },
  counted: showCount,
  confirmed: (index, value) => tally.record(value),
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
  onJump: (index, { center }) => goTo(center ? index - Math.floor(grid.boxesInView / 2) : index),
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
  onRender: showPlace,
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
  if (index !== null) goTo(index, { mark: true });
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
  const link = linkToBox(keepPlace());
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

el.size.textContent = numbers.format(config.size);
showTally(tally.read());
grid.layout();
const start = boxFromHash(location.hash, config.size);
if (start !== null) goTo(start, { mark: true });
connection.open();

// For tests and curious players: the live objects, read-only by convention.
window.checkboxes = { sync, grid, minimap, connection, tally };
