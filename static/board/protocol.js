// The wire format (docs/protocol.md). Integers are big-endian.

export const OP_SET = 0x01;
export const OP_ACK = 0x02;
export const FRAME_UPDATE = 0x01;
export const FRAME_RESULT = 0x02;

export const Status = Object.freeze({
  APPLIED: 0,
  UNCHANGED: 1,
  FROZEN: 2,
  OUT_OF_RANGE: 3,
  BAD_VALUE: 4,
  UNAVAILABLE: 5,
  RATE_LIMITED: 6,
  BANNED: 7,
});

export const REFUSALS = Object.freeze({
  [Status.FROZEN]: "The board is frozen; changes are paused.",
  [Status.OUT_OF_RANGE]: "That box doesn't exist.",
  [Status.BAD_VALUE]: "That change wasn't understood.",
  [Status.UNAVAILABLE]: "The server can't save changes right now. Try again in a moment.",
  [Status.RATE_LIMITED]: "Slow down a little: too many changes at once.",
  [Status.BANNED]: "Changes from your network are blocked by a moderator.",
});

// What to tell the player about a refusal. A RATE_LIMITED entry carries the
// milliseconds to wait (0: no estimate), said in whole seconds, rounded up.
export function refusalMessage(status, waitMs = 0) {
  if (status === Status.RATE_LIMITED && waitMs > 0) {
    return `Slow down: try again in ${Math.ceil(waitMs / 1000)} s.`;
  }
  return REFUSALS[status] || REFUSALS[Status.UNAVAILABLE];
}

export function encodeSet(index, value) {
  const view = new DataView(new ArrayBuffer(6));
  view.setUint8(0, OP_SET);
  view.setUint32(1, index);
  view.setUint8(5, value);
  return view.buffer;
}

export function encodeAck(frames) {
  const view = new DataView(new ArrayBuffer(5));
  view.setUint8(0, OP_ACK);
  view.setUint32(1, frames >>> 0);
  return view.buffer;
}

function readU64(view, offset) {
  return view.getUint32(offset) * 4294967296 + view.getUint32(offset + 4);
}

// UPDATE: [0x01] then runs of [epoch u32][from u64][n u16][n x (index << 1 | value) u32].
export function decodeUpdate(buffer) {
  const view = new DataView(buffer);
  const runs = [];
  let offset = 1;
  while (offset + 14 <= view.byteLength) {
    const epoch = view.getUint32(offset);
    const from = readU64(view, offset + 4);
    const n = view.getUint16(offset + 12);
    offset += 14;
    const words = new Array(n);
    for (let k = 0; k < n; k++, offset += 4) words[k] = view.getUint32(offset);
    runs.push({ epoch, from, to: from + n, words });
  }
  return runs;
}

// RESULT: [0x02][epoch u32] then entries of [index u32][value u8][status u8][version u64].
// A RATE_LIMITED entry's version is the milliseconds to wait instead.
// The epoch is the board's when the changes reached it, or 0 if none of them did.
export function decodeResults(buffer) {
  const view = new DataView(buffer);
  const entries = [];
  for (let offset = 5; offset + 14 <= view.byteLength; offset += 14) {
    entries.push({
      index: view.getUint32(offset),
      value: view.getUint8(offset + 4),
      status: view.getUint8(offset + 5),
      version: readU64(view, offset + 6),
    });
  }
  return { epoch: view.getUint32(1), entries };
}
