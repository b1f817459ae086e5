"""
What the admin's timelapse costs: the page, one frame near its snapshot and one far from it, against the
whole animation that the page used to inline.

    .venv/bin/python benchmarks/timelapse_frames.py [--changes 100000] [--frames 120]

Starts its own redis-server and SQLite database (local_site; nothing you run is touched), makes a board of
1,000,000 boxes with one snapshot and then ``--changes`` logged changes, and asks the admin's views for the
page and its frames through Django's test client, so the figures are the views' own work.
"""

import argparse
import time

from local_site import local_site


def prepare(changes):
    from django.contrib.auth.models import User
    from django.utils import timezone

    from board.models import Board, Snapshot
    from board.store import snapshots, state
    from board.store.state import Author

    board = Board.objects.create(slug="million", size=1_000_000)
    snapshots.take(board, Snapshot.Reason.PERIODIC)
    time.sleep(0.01)
    since = timezone.now()
    artist = Author("198.51.100.0/24", "198.51.100.7", "a1a1a1a1a1a1")
    for start in range(0, changes, 1_000):
        batch = [((start + k) * 7 % board.size, 1) for k in range(min(1_000, changes - start))]
        state.apply(board, batch, [artist] * len(batch))
    until = timezone.now()
    return User.objects.create_superuser("bench", password="bench-only-42"), board, since, until


def timed(get, *args):
    started = time.perf_counter()
    response = get(*args)
    return response, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--frames", type=int, default=120)
    options = parser.parse_args()
    with local_site():
        from django.test import Client
        from django.urls import reverse

        from board.history import timelapse

        user, board, since, until = prepare(options.changes)
        client = Client(SERVER_NAME="127.0.0.1")  # an allowed host of local_site
        client.force_login(user)
        window = {"since": since.isoformat(), "until": until.isoformat(), "frames": options.frames}
        page_url = reverse("admin:board_board_timelapse", args=[board.pk])
        page, seconds = timed(client.get, page_url, {**window, "fps": 10})
        assert page.status_code == 200, page.content[:500]
        print(f"page: {len(page.content):,} bytes in {seconds:.2f} s")
        frame_url = reverse("admin:board_board_timelapse_frame", args=[board.pk])
        for k in (0, options.frames // 2, options.frames - 1):
            frame, seconds = timed(client.get, frame_url, {**window, "frame": k})
            assert frame.status_code == 200, frame.content[:500]
            print(f"frame {k}: {len(frame.content):,} bytes of PNG in {seconds:.2f} s")
        started = time.perf_counter()
        gif = timelapse.render(board, since, until, options.frames, 10)
        seconds = time.perf_counter() - started
        inlined = (len(gif) + 2) // 3 * 4
        print(f"the whole GIF, as the page used to inline it: {inlined:,} bytes of base64 in {seconds:.2f} s")


if __name__ == "__main__":
    main()
