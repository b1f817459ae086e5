"""
A board's boxes as bytes, the one layout every part shares (docs/protocol.md).

Box i is bit ``7 - (i % 8)`` of byte ``i >> 3``: most significant bit first, as
Redis ``SETBIT`` numbers them. The unused low bits of the last byte stay 0.
static/board/bitset.js reads the same bytes in the browser.
"""

import hashlib


def byte_length(size):
    """Bytes that hold ``size`` boxes."""
    return (size + 7) // 8


def mask_padding(bits, size):
    """Clear the unused low bits of the last byte so BITCOUNT counts only boxes."""
    spare = byte_length(size) * 8 - size
    if not spare or not bits:
        return bits
    return bits[:-1] + bytes([bits[-1] & (0xFF << spare) & 0xFF])


def get(bits, index):
    """Box ``index`` of ``bits``: 1 checked, 0 not."""
    return (bits[index >> 3] >> (7 - (index & 7))) & 1


def put(bits, index, value):
    """Set box ``index`` of the bytearray ``bits`` to ``value``."""
    mask = 0x80 >> (index & 7)
    if value:
        bits[index >> 3] |= mask
    else:
        bits[index >> 3] &= ~mask & 0xFF


def digest(bits):
    """SHA-256 of a bitset: how snapshots and the change log name a whole board's content."""
    return hashlib.sha256(bits).hexdigest()
