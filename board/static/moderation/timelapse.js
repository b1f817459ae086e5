// The admin's timelapse player (templates/admin/board/board/timelapse.html). Frames are fetched one
// at a time from the frame view (board/history_admin.py) as they are needed, a few ahead of the one
// shown, and let go once far behind: a timelapse of hundreds of megabytes never sits in the page.

const AHEAD = 3;
const KEPT = 24;

const player = document.getElementById("timelapse-player");
const picture = document.getElementById("timelapse");
const playButton = document.getElementById("timelapse-play");
const scrubber = document.getElementById("timelapse-scrubber");
const moment = document.getElementById("timelapse-moment");
const error = document.getElementById("timelapse-error");

const frames = Number(player?.dataset.frames);
const interval = 1000 / Number(player?.dataset.fps || 10);
const fetched = new Map(); // frame number -> Promise of {url, moment}
let shown = 0;
let wanted = 0;
let playing = false;
let timer = null;

function fetchFrame(k) {
  if (!fetched.has(k)) {
    const url = `${player.dataset.frameUrl}&frame=${k}`;
    const frame = fetch(url, { credentials: "same-origin" }).then(async (response) => {
      if (!response.ok) throw new Error(await response.text());
      const blob = await response.blob();
      return { url: URL.createObjectURL(blob), moment: response.headers.get("Timelapse-Moment") };
    });
    frame.catch(() => fetched.delete(k)); // asked again, it is fetched again
    fetched.set(k, frame);
  }
  return fetched.get(k);
}

function letGo() {
  for (const [k, frame] of fetched) {
    if (Math.abs(k - shown) <= KEPT) continue;
    fetched.delete(k);
    frame.then((done) => URL.revokeObjectURL(done.url), () => {});
  }
}

function fail(message) {
  pause();
  error.textContent = message || "The frame could not be fetched.";
  error.hidden = false;
}

// Shows frame k once it has arrived; false if it could not be, or another frame was asked for meanwhile.
async function show(k) {
  wanted = k;
  scrubber.value = String(k);
  let frame;
  try {
    frame = await fetchFrame(k);
  } catch (failure) {
    if (wanted === k) fail(failure.message);
    return false;
  }
  if (wanted !== k) return false;
  shown = k;
  picture.src = frame.url;
  picture.dataset.frame = String(k);
  const words = `Frame ${(k + 1).toLocaleString("en")} of ${frames.toLocaleString("en")}: ${frame.moment}`;
  picture.alt = `${player.querySelector("figcaption").textContent}. ${words}`;
  moment.textContent = words;
  scrubber.setAttribute("aria-valuetext", words);
  error.hidden = true;
  for (let j = 1; j <= AHEAD && k + j < frames; j += 1) fetchFrame(k + j).catch(() => {});
  letGo();
  return true;
}

async function step() {
  if (!playing) return;
  if (shown + 1 >= frames) {
    pause();
    return;
  }
  const started = performance.now();
  const done = await show(shown + 1);
  if (!playing) return;
  if (!done && !error.hidden) return;
  timer = setTimeout(step, Math.max(0, interval - (performance.now() - started)));
}

function play() {
  if (playing) return;
  playing = true;
  playButton.textContent = "Pause";
  const start = shown + 1 >= frames ? show(0) : Promise.resolve(true);
  start.then(() => {
    timer = setTimeout(step, interval);
  });
}

function pause() {
  playing = false;
  clearTimeout(timer);
  playButton.textContent = "Play";
}

function setUp() {
  playButton.disabled = false;
  scrubber.disabled = false;
  playButton.addEventListener("click", () => (playing ? pause() : play()));
  scrubber.addEventListener("input", () => show(Number(scrubber.value)));
  scrubber.addEventListener("keydown", (event) => {
    if (event.key !== " ") return;
    event.preventDefault();
    if (playing) pause();
    else play();
  });
  show(0);
}

if (player) setUp();
