"""Timelapses: replayed from a snapshot plus the log, first and last frames exactly the board at the window's ends."""

import io
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image

from board import moderation, pictures
from board.history import timelapse
from board.models import Snapshot
from board.store import snapshots, state
from board.store.state import Author

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

ARTIST = Author("198.51.100.1/32", "198.51.100.1", "c0ffeec0ffee")


def draw(board, boxes, value=1):
    state.apply(board, [(box, value) for box in boxes], [ARTIST] * len(boxes))


def pause():
    """Let the clock move on a few milliseconds, so moments fall between changes."""
    time.sleep(0.005)


def now():
    moment = timezone.now()
    pause()
    return moment


def live_bits(board):
    return state.read(board)[0]


def frames(data):
    """Every frame of an animation, as RGB pictures."""
    animation = Image.open(io.BytesIO(data))
    out = []
    for number in range(animation.n_frames):
        animation.seek(number)
        out.append(animation.convert("RGB"))
    return out


def picture_of(bits, size):
    return pictures.picture(bits, size).convert("RGB")


@pytest.fixture
def drawn(main_board):
    """A board drawn on before, during and after a window: ``(board, since, until, bits at since, bits at until)``."""
    draw(main_board, range(400))
    snapshots.take(main_board, Snapshot.Reason.PERIODIC)
    pause()
    draw(main_board, range(400, 800))  # after the snapshot, before the window
    since, at_since = now(), live_bits(main_board)
    for row in range(5, 50, 5):
        draw(main_board, range(row * 400, row * 400 + 200))
        draw(main_board, range(row * 400 + 50, row * 400 + 100), value=0)
        pause()
    until, at_until = now(), live_bits(main_board)
    draw(main_board, range(90_000, 91_000))  # after the window
    return main_board, since, until, at_since, at_until


@pytest.mark.parametrize("kind", ["GIF", "PNG"])
def test_the_first_and_last_frames_are_the_board_at_the_windows_ends(kind, drawn):
    board, since, until, at_since, at_until = drawn

    data = timelapse.render(board, since, until, frames=8, fps=5, kind=kind)

    shown = frames(data)
    assert at_since != at_until
    assert shown[0].tobytes() == picture_of(at_since, board.size).tobytes()
    assert shown[-1].tobytes() == picture_of(at_until, board.size).tobytes()
    assert len(shown) > 2


def test_each_frame_is_the_board_at_its_moment(drawn):
    board, since, until, at_since, at_until = drawn
    times = timelapse.moments(since, until, 4)

    boards = list(timelapse.boards(board, times))

    assert (boards[0], boards[-1]) == (at_since, at_until)
    assert len(boards) == 4


def test_a_restore_in_the_window_is_replayed_from_its_snapshot(main_board):
    draw(main_board, range(100))
    saved = snapshots.take(main_board, Snapshot.Reason.MANUAL)
    since = now()
    draw(main_board, range(100, 200))
    pause()
    moderation.restore(saved)
    draw(main_board, [5000])
    until = now()

    boards = list(timelapse.boards(main_board, [since, until]))

    assert boards[-1] == live_bits(main_board)


def test_a_board_with_no_snapshot_is_replayed_from_its_start(main_board):
    draw(main_board, range(50))
    since = now()
    draw(main_board, range(50, 100))
    until = now()

    boards = list(timelapse.boards(main_board, [since, until]))

    assert boards[-1] == live_bits(main_board)
    assert boards[0].count(b"\xff") == 6


def test_a_gap_in_the_log_stops_the_replay_with_a_reason(drawn):
    board, since, until, _, _ = drawn
    log = state.changelog_key("main")
    middle = state.sync_client().xrange(log, min=str(int(since.timestamp() * 1000)), count=10)[5][0]
    state.sync_client().xdel(log, middle)

    with pytest.raises(timelapse.TimelapseError, match="The log misses the changes between versions"):
        timelapse.render(board, since, until, frames=4)


def test_a_window_the_log_and_snapshots_do_not_reach_is_refused(main_board):
    draw(main_board, range(50))
    since = now()
    draw(main_board, range(50, 100))
    until = now()
    state.sync_client().delete(state.changelog_key("main"))
    draw(main_board, [7000])

    with pytest.raises(timelapse.TimelapseError, match="No snapshot of main was taken before"):
        timelapse.render(main_board, since, until, frames=4)


def test_a_window_in_which_nothing_changed_is_refused(drawn):
    board, _, until, _, _ = drawn
    later = until + timedelta(milliseconds=1)
    with pytest.raises(timelapse.TimelapseError, match="Nothing changed on main between"):
        timelapse.render(board, later, later + timedelta(milliseconds=2), frames=4)


@pytest.mark.parametrize(
    "frames, fps, message",
    [(1, 10, "has 2 to 1,000 frames, not 1"), (5000, 10, "frames, not 5,000"), (10, 0, "from 1 to 50, not 0")],
)
def test_numbers_out_of_bounds_are_refused(frames, fps, message, drawn):
    board, since, until, _, _ = drawn
    with pytest.raises(timelapse.TimelapseError, match=message):
        timelapse.render(board, since, until, frames=frames, fps=fps)


def test_a_window_that_ends_before_it_starts_is_refused(drawn):
    board, since, until, _, _ = drawn
    with pytest.raises(timelapse.TimelapseError, match="ends .* before it starts"):
        timelapse.render(board, until, since)


def test_the_progress_is_told_after_each_frame(drawn):
    board, since, until, _, _ = drawn
    told = []
    timelapse.render(board, since, until, frames=5, progress=lambda done, total: told.append((done, total)))
    assert told == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


def test_a_window_starting_before_the_board_was_created_starts_empty(main_board):
    before = now()
    draw(main_board, range(50))
    until = now()

    boards = list(timelapse.boards(main_board, [before, until]))

    assert boards == [bytes(12_500), live_bits(main_board)]


# -- one frame at a time, as the admin's player asks for them ----------------------------------------


def test_each_frame_on_its_own_is_the_frame_of_the_whole_replay(drawn):
    board, since, until, _, at_until = drawn
    snapshots.take(board, Snapshot.Reason.PERIODIC)  # after the window: no frame may start from it
    whole = list(timelapse.boards(board, timelapse.moments(since, until, 6)))

    alone = [timelapse.bits_at(board, moment) for moment in timelapse.moments(since, until, 6)]

    assert alone == whole
    assert alone[-1] == at_until


def test_a_frame_is_the_overview_at_its_moment(drawn):
    board, since, until, at_since, _ = drawn
    picture, moment = timelapse.frame(board, since, until, 5, 0)
    assert moment == since
    assert picture.convert("RGB").tobytes() == pictures.overview(at_since, board.size).convert("RGB").tobytes()
    assert timelapse.frame(board, since, until, 5, 4)[1] == until


def test_the_window_check_refuses_a_window_without_changes_or_a_start_it_cannot_rebuild(drawn):
    board, since, until, _, _ = drawn
    timelapse.check_window(board, since, until)
    with pytest.raises(timelapse.TimelapseError, match="Nothing changed on main between"):
        timelapse.check_window(board, until + timedelta(seconds=1), until + timedelta(seconds=2))
    Snapshot.objects.all().delete()
    state.sync_client().delete(state.changelog_key("main"))  # the log no longer starts with the board's creation
    draw(board, [7000])
    with pytest.raises(timelapse.TimelapseError, match="No snapshot of main was taken before"):
        timelapse.check_window(board, since, timezone.now())


def test_a_frame_from_before_the_board_was_created_is_the_empty_board(main_board):
    created = now()
    draw(main_board, range(10))
    long_before = created - timedelta(hours=1)
    assert timelapse.bits_at(main_board, long_before) == bytes(len(live_bits(main_board)))
