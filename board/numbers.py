"""Numbers in words, for titles such as "One Hundred Thousand Checkboxes"."""

_SMALL = (
    "Zero One Two Three Four Five Six Seven Eight Nine Ten Eleven Twelve Thirteen Fourteen Fifteen Sixteen "
    "Seventeen Eighteen Nineteen"
).split()
_TENS = ["_", "_", "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety"]
_SCALES = ((10**12, "Trillion"), (10**9, "Billion"), (10**6, "Million"), (1000, "Thousand"))


def _below_thousand(n):
    words = []
    if n >= 100:
        words += [_SMALL[n // 100], "Hundred"]
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10] + (f"-{_SMALL[n % 10]}" if n % 10 else ""))
    elif n or not words:
        words.append(_SMALL[n])
    return words


def in_words(n):
    """``in_words(100_000)`` -> ``"One Hundred Thousand"``, in title case."""
    if n < 0:
        return "Minus " + in_words(-n)
    if n < 1000:
        return " ".join(_below_thousand(n))
    words = []
    for scale, name in _SCALES:
        if n >= scale:
            words += _below_thousand(n // scale) + [name]
            n %= scale
    if n:
        words += _below_thousand(n)
    return " ".join(words)
