"""What the commands print besides their results: nothing at --verbosity 0, progress bars only on a terminal."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from board.store import state
from board.store.state import Author

pytestmark = [pytest.mark.django_db]

ALICE = Author("198.51.100.1/32", "198.51.100.1", "a1a1a1a1a1a1")


class Terminal(io.StringIO):
    def isatty(self):
        return True


def run(*args, stderr=None):
    out, err = io.StringIO(), stderr or io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def changed_board(main_board):
    since = timezone.now()
    for box in range(5):
        state.apply(main_board, [(box, 1)], [ALICE])
    return since


def test_exportboard_reports_its_steps_and_at_verbosity_0_nothing(main_board, tmp_path):
    out, _ = run("exportboard", str(tmp_path / "board.bin"))
    assert "Reading main… done" in out and "Exported main" in out

    assert run("exportboard", str(tmp_path / "again.bin"), "--verbosity", "0") == ("", "")
    assert (tmp_path / "again.bin").read_bytes() == state.read(main_board)[0]


def test_timelapse_draws_its_progress_bar_on_a_terminal(changed_board, tmp_path):
    terminal = Terminal()
    out, err = run(
        "timelapse", "--since", changed_board.isoformat(), "--frames", "5", str(tmp_path / "a.gif"), stderr=terminal
    )
    assert "\rRendering [" in err and err.endswith("5/5\n")
    assert "Wrote " in out


def test_timelapse_draws_no_bar_into_a_file_or_a_pipe(changed_board, tmp_path):
    out, err = run("timelapse", "--since", changed_board.isoformat(), "--frames", "5", str(tmp_path / "a.gif"))
    assert err == ""
    assert "Wrote " in out


def test_timelapse_at_verbosity_0_prints_nothing_even_on_a_terminal(changed_board, tmp_path):
    output = tmp_path / "a.gif"
    args = ("timelapse", "--since", changed_board.isoformat(), "--frames", "5", str(output), "--verbosity", "0")
    assert run(*args, stderr=Terminal()) == ("", "")
    assert output.stat().st_size > 0


def test_clearboard_prints_no_steps_at_verbosity_0(main_board, changed_board):
    out, err = run("clearboard", "--noinput", "--verbosity", "0")
    assert "… done" not in out and not err
    out, _ = run("clearboard", "--noinput")
    assert "Clearing main… done" in out
