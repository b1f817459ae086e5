"""Times and durations as moderators and operators type them: the history tools, bans and commands."""

import re
from datetime import UTC, datetime, timedelta

UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# Longer than anything meant; past it, date arithmetic would overflow.
LONGEST = timedelta(days=100 * 365)
# The change log's entries are numbered by Unix time: nothing is older, and
# Redis refuses an id before it.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)

MOMENT_HELP = "a time ago (30m, 2h, 1d), now, or a date and time in UTC such as 2025-01-03T18:00"


def parse_duration(text):
    """``"90s"``, ``"30m"``, ``"12h"``, ``"7d"``, ``"2w"`` as a timedelta; ValueError otherwise."""
    match = re.fullmatch(r"(\d{1,7})([smhdw])", text.strip())
    if not match or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a duration: write 90s, 30m, 12h, 7d or 2w.")
    duration = timedelta(**{UNITS[match[2]]: int(match[1])})
    if duration > LONGEST:
        raise ValueError(f"{text!r} is longer than 100 years.")
    return duration


def parse_moment(text, now):
    """A moment from ``"now"``, a duration ago (``"2h"``) or an ISO date and time (UTC unless it says).

    Raises ValueError with a sentence saying what to write instead.
    """
    text = text.strip()
    if text == "now":
        return now
    moment = now - parse_duration(text) if re.fullmatch(r"\d+[smhdw]", text) else _parse_date(text)
    if moment < EARLIEST:
        raise ValueError(f"{text!r} is before 1970, older than any history.")
    return moment


def _parse_date(text):
    try:
        moment = datetime.fromisoformat(text)
        # Year 1 or 9999 in another time zone is outside what a datetime holds in UTC.
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"{text!r} is not a time: write {MOMENT_HELP}.") from None


def format_moment(moment):
    """How the tools write a moment back: UTC, to the millisecond the log keeps."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
