// The board's boxes as bits: box i is bit (7 - i % 8) of byte i >> 3, most
// significant bit first, exactly as Redis's SETBIT numbers them.

const POPCOUNT = new Uint8Array(256);
for (let i = 1; i < 256; i++) POPCOUNT[i] = (i & 1) + POPCOUNT[i >> 1];

export function popcount(bytes) {
  let total = 0;
  for (let i = 0; i < bytes.length; i++) total += POPCOUNT[bytes[i]];
  return total;
}

export class Bitset {
  constructor(size, bytes) {
    const length = (size + 7) >> 3;
    if (bytes && bytes.length !== length) {
      throw new Error(`state has ${bytes.length} bytes; ${size} boxes need ${length}`);
    }
    this.size = size;
    this.bytes = bytes || new Uint8Array(length);
    this.count = popcount(this.bytes);
  }

  get(index) {
    return (this.bytes[index >> 3] >> (7 - (index & 7))) & 1;
  }

  // Boxes checked among `from` … `to - 1`: whole bytes through the table,
  // the ragged ends bit by bit.
  countRange(from, to) {
    let total = 0;
    let i = from;
    for (; i < to && i & 7; i++) total += this.get(i);
    for (; i + 8 <= to; i += 8) total += POPCOUNT[this.bytes[i >> 3]];
    for (; i < to; i++) total += this.get(i);
    return total;
  }

  // Sets box `index` to `value`; returns true if that changed it.
  set(index, value) {
    const mask = 0x80 >> (index & 7);
    const byte = this.bytes[index >> 3];
    if (((byte & mask) !== 0) === (value === 1)) return false;
    this.bytes[index >> 3] = value ? byte | mask : byte & ~mask;
    this.count += value ? 1 : -1;
    return true;
  }
}
