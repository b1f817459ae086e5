// The place on the board lives in the URL: #12345 means "box 12,345 at the
// top left", so a reload, a restart or a shared link lands in the same spot.
// A zoomed-out view adds its pixels per box: #12345@4 (zoom.js); the plain
// #12345 of older links still means the real checkboxes.

const HASH = /^#(\d{1,10})(?:@(\d{1,2}))?$/;

const numbers = new Intl.NumberFormat("en-US");

export function boxFromHash(hash, size) {
  const match = HASH.exec(hash);
  if (!match) return null;
  const index = Number(match[1]);
  return index < size ? index : null;
}

// What a player typed in the jump box, read generously ("51,234", "#51234",
// "51 234"): `{ index }`, or `{ error }` with a sentence saying why not.
export function parseBoxNumber(text, size) {
  const range = `from 0 to ${numbers.format(size - 1)}`;
  const typed = text.trim().replace(/^#/, "").replace(/[\s,_]/g, "");
  if (typed === "") return { error: `Type a box number ${range}.` };
  if (!/^\d+$/.test(typed)) return { error: `“${text.trim()}” is not a box number: type one ${range}.` };
  const index = Number(typed);
  if (index >= size) return { error: `There is no box ${numbers.format(index)}: boxes are numbered ${range}.` };
  return { index };
}

// The pixels per box a link asks for, or 0 for the real checkboxes.
export function zoomFromHash(hash) {
  const match = HASH.exec(hash);
  return match && match[2] ? Number(match[2]) : 0;
}

function fragment(index, zoom) {
  return zoom ? `#${index}@${zoom}` : `#${index}`;
}

export function linkToBox(index, zoom = 0) {
  return `${location.origin}${location.pathname}${location.search}${fragment(index, zoom)}`;
}

// Keep `#index` in the address bar without adding a history entry per scroll.
export function rememberBox(index, zoom = 0) {
  history.replaceState(history.state, "", fragment(index, zoom));
}

// Copies `text`; resolves to false where the page may not (an http page
// served to another machine has no clipboard API, for example).
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Permission refused: try the old way below.
    }
  }
  return copyBySelection(text);
}

function copyBySelection(text) {
  const focused = document.activeElement;
  const field = document.createElement("textarea");
  field.value = text;
  field.setAttribute("readonly", "");
  field.className = "visually-hidden";
  document.body.append(field);
  field.select();
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch {
    copied = false;
  }
  field.remove();
  if (focused) focused.focus({ preventScroll: true });
  return copied;
}
