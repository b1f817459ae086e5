// The staff's live page (board/live_admin.py): polls the figures and shows them as text, tables and a chart.

const POLL_MS = 3000;
const SVG = "http://www.w3.org/2000/svg";
const CHART = { width: 720, height: 180, top: 16, bottom: 20 };

const root = document.getElementById("live");
const url = root.dataset.figuresUrl;
const els = {
  updated: document.getElementById("live-updated"),
  problems: document.getElementById("live-problems"),
  players: document.getElementById("live-players"),
  changes: document.getElementById("live-changes"),
  refused: document.getElementById("live-refused"),
  rate: document.getElementById("live-rate"),
  processCount: document.getElementById("live-process-count"),
  memory: document.getElementById("live-memory"),
  meter: document.getElementById("live-memory-meter"),
  chart: document.getElementById("live-chart"),
  minutes: document.querySelector("#live-minutes tbody"),
  boards: document.querySelector("#live-boards tbody"),
  processes: document.querySelector("#live-processes tbody"),
};
const numbers = new Intl.NumberFormat("en");

function count(value) {
  return value === null || value === undefined ? "unavailable" : numbers.format(value);
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  const hours = Math.floor(seconds / 3600);
  if (hours < 48) return `${hours} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(hours / 24)} days`;
}

function clock(unixSeconds) {
  return new Date(unixSeconds * 1000).toISOString().slice(11, 16);
}

function cell(row, text, header = false) {
  const td = document.createElement(header ? "th" : "td");
  if (header) td.scope = "row";
  if (text instanceof Node) td.append(text);
  else td.textContent = text;
  row.append(td);
  return td;
}

function fillTable(body, items, fill) {
  body.replaceChildren(
    ...items.map((item) => {
      const row = document.createElement("tr");
      fill(row, item);
      return row;
    }),
  );
}

function showNow(figures) {
  const minutes = figures.minutes;
  els.players.textContent = count(figures.players);
  els.changes.textContent = minutes ? count(minutes.at(-1).applied) : "unavailable";
  els.refused.textContent = minutes ? count(minutes.at(-1).refused) : "unavailable";
  els.rate.textContent = minutes ? (minutes.at(-2).applied / 60).toFixed(1) : "unavailable";
  els.processCount.textContent = figures.processes ? count(figures.processes.length) : "unavailable";
}

function showMemory(memory) {
  if (!memory) {
    els.memory.textContent = "unavailable";
    els.meter.hidden = true;
    return;
  }
  if (!memory.max) {
    els.memory.textContent = `${memory.used_human} used, no limit (maxmemory is 0)`;
    els.meter.hidden = true;
    return;
  }
  const share = memory.used / memory.max;
  els.memory.textContent = `${memory.used_human} of ${memory.max_human} (${(share * 100).toFixed(1)}%, ${memory.policy})`;
  els.meter.value = Math.min(share, 1);
  els.meter.hidden = false;
}

function bar(x, y, width, height, className) {
  const rect = document.createElementNS(SVG, "rect");
  for (const [name, value] of Object.entries({ x, y, width, height })) rect.setAttribute(name, value);
  rect.setAttribute("class", className);
  return rect;
}

function label(x, y, text, anchor = "start") {
  const node = document.createElementNS(SVG, "text");
  node.setAttribute("x", x);
  node.setAttribute("y", y);
  node.setAttribute("text-anchor", anchor);
  node.textContent = text;
  return node;
}

function drawChart(minutes) {
  if (!minutes) {
    els.chart.replaceChildren(label(CHART.width / 2, CHART.height / 2, "unavailable", "middle"));
    els.chart.setAttribute("aria-label", "Changes each minute: unavailable");
    return;
  }
  const peak = Math.max(1, ...minutes.map((minute) => minute.applied + minute.refused));
  const span = CHART.height - CHART.top - CHART.bottom;
  const step = CHART.width / minutes.length;
  const shapes = minutes.flatMap((minute, i) => {
    const applied = (minute.applied / peak) * span;
    const refused = (minute.refused / peak) * span;
    const base = CHART.height - CHART.bottom;
    return [
      bar(i * step + 1, base - applied, step - 2, applied, "live-applied"),
      bar(i * step + 1, base - applied - refused, step - 2, refused, "live-refusals"),
    ];
  });
  shapes.push(
    label(0, 12, `${numbers.format(peak)} a minute`),
    label(0, CHART.height - 4, clock(minutes[0].minute)),
    label(CHART.width, CHART.height - 4, clock(minutes.at(-1).minute), "end"),
  );
  els.chart.replaceChildren(...shapes);
  const refused = minutes.reduce((sum, minute) => sum + minute.refused, 0);
  els.chart.setAttribute(
    "aria-label",
    `Changes each minute over the last hour: at most ${numbers.format(peak)}, ` +
      `${numbers.format(minutes.at(-1).applied)} this minute; ${numbers.format(refused)} refused in the hour.`,
  );
}

function showMinutes(minutes) {
  fillTable(els.minutes, [...(minutes || [])].reverse(), (row, minute) => {
    cell(row, clock(minute.minute), true);
    cell(row, count(minute.applied));
    cell(row, count(minute.refused));
  });
}

function showBoards(boards) {
  fillTable(els.boards, boards, (row, board) => {
    const link = document.createElement("a");
    link.href = board.url;
    link.textContent = board.slug;
    cell(row, link, true);
    cell(row, count(board.players));
    cell(row, count(board.applied));
    cell(row, count(board.refused));
    cell(row, board.snapshot_age === null ? "never" : `${duration(board.snapshot_age)} ago`);
  });
}

function showProcesses(processes) {
  fillTable(els.processes, processes || [], (row, process) => {
    cell(row, process.process, true);
    cell(row, duration(process.uptime));
    cell(row, count(process.sockets));
    const boards = Object.entries(process.boards).map(([slug, sockets]) => `${slug} (${numbers.format(sockets)})`);
    cell(row, boards.join(", ") || "none");
    cell(row, `${process.lag_ms} ms`);
    cell(row, process.changes_per_second.toFixed(1));
  });
}

function showProblems(problems) {
  els.problems.replaceChildren(
    ...problems.map((problem) => {
      const p = document.createElement("p");
      p.className = "errornote";
      p.textContent = problem;
      return p;
    }),
  );
}

function show(figures) {
  showNow(figures);
  showMemory(figures.redis);
  drawChart(figures.minutes);
  showMinutes(figures.minutes);
  showBoards(figures.boards);
  showProcesses(figures.processes);
  showProblems(figures.problems);
  els.updated.textContent = `${new Date(figures.now * 1000).toISOString().slice(11, 19)} UTC`;
}

async function poll() {
  // A page in a background tab asks for nothing; it catches up when shown again.
  if (document.hidden) {
    setTimeout(poll, POLL_MS);
    return;
  }
  try {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.redirected || !response.ok) {
      showProblems([`The figures did not load (${response.redirected ? "signed out?" : response.status}).`]);
    } else {
      show(await response.json());
    }
  } catch (error) {
    showProblems([`The figures did not load: ${error.message}`]);
  }
  setTimeout(poll, POLL_MS);
}

poll();
