// Wires the page together: the grid, the live state, the socket and the bits
// of chrome around them (counter, players, connection, jump box, messages).

import { Connection } from "./connection.js";
import { Grid } from "./grid.js";
import { REFUSALS, Status } from "./protocol.js";
import { BoardSync } from "./sync.js";

const config = JSON.parse(document.getElementById("board-config").textContent);
const numbers = new Intl.NumberFormat("en-US");

const el = {
  count: document.getElementById("count"),
  players: document.getElementById("players"),
  playersLabel: document.getElementById("players-label"),
  connection: document.getElementById("connection"),
  banner: document.getElementById("frozen-banner"),
  toast: document.getElementById("toast"),
  jump: document.getElementById("jump"),
  jumpTo: document.getElementById("jump-to"),
  viewport: document.getElementById("viewport"),
  spacer: document.getElementById("spacer"),
  rows: document.getElementById("rows"),
};

const CONNECTION_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  gone: "Board not found",
};

let toastTimer = 0;

function showToast(text) {
  el.toast.textContent = text;
  el.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    el.toast.hidden = true;
  }, 3500);
}

function showConnection(state) {
  el.connection.dataset.state = state;
  el.connection.textContent = CONNECTION_TEXT[state] || state;
}

const view = {
  changed: (index) => grid.refresh(index),
  reset: () => grid.refreshAll(),
  counted: (count) => {
    el.count.textContent = numbers.format(count);
  },
  refused: (index, status) => {
    grid.refresh(index);
    showToast(REFUSALS[status] || "That change was refused.");
  },
  frozen: (frozen) => {
    el.banner.hidden = !frozen;
    grid.setDisabled(frozen);
  },
  players: (count) => {
    el.players.textContent = numbers.format(count);
    el.playersLabel.textContent = count === 1 ? "player" : "players";
  },
  live: (live) => showConnection(live ? "live" : "reconnecting"),
};

const sync = new BoardSync({ size: config.size, stateUrl: config.stateUrl, view });

const grid = new Grid({
  viewport: el.viewport,
  spacer: el.spacer,
  rows: el.rows,
  size: config.size,
  valueAt: (index) => sync.valueAt(index),
  onToggle: (index, value) => {
    const refusal = sync.set(index, value);
    grid.refresh(index);
    if (refusal !== null) showToast(REFUSALS[refusal] || REFUSALS[Status.UNAVAILABLE]);
  },
});

const connection = new Connection(config.socketPath, {
  hello: (message) => sync.hello(message),
  beacon: (message) => sync.beacon(message),
  update: (runs) => sync.update(runs),
  results: (entries) => sync.results(entries),
  resync: () => sync.resync(),
  frozen: (message) => sync.setFrozen(message.frozen),
  error: (message) => showToast(message.message),
  pong: () => {},
  status: (state) => {
    if (state !== "live") sync.disconnected();
    showConnection(state);
  },
});
sync.connection = connection;

// -- position in the URL: #12345 is the box at the top left ------------------

function boxFromHash() {
  const match = /^#(\d+)$/.exec(location.hash);
  if (!match) return null;
  const index = Number(match[1]);
  return index < config.size ? index : null;
}

let hashTimer = 0;
el.viewport.addEventListener(
  "scroll",
  () => {
    clearTimeout(hashTimer);
    hashTimer = setTimeout(() => {
      history.replaceState(null, "", `#${grid.topLeftBox()}`);
    }, 250);
  },
  { passive: true },
);

addEventListener("hashchange", () => {
  const index = boxFromHash();
  if (index !== null) grid.scrollToBox(index);
});

el.jump.addEventListener("submit", (event) => {
  event.preventDefault();
  const raw = el.jumpTo.value.trim();
  const index = Number(raw);
  if (raw === "" || !Number.isInteger(index) || index < 0 || index >= config.size) {
    showToast(`Boxes are numbered 0 to ${numbers.format(config.size - 1)}.`);
    return;
  }
  grid.scrollToBox(index);
  history.replaceState(null, "", `#${grid.topLeftBox()}`);
  const box = grid.boxElement(index);
  if (box) box.focus({ preventScroll: true });
});

grid.layout();
const start = boxFromHash();
if (start !== null) grid.scrollToBox(start);
connection.open();

// For tests and curious players: the live objects, read-only by convention.
window.checkboxes = { sync, grid, connection };
