"""Smoke runs of the benchmarks, so they never rot: tiny loads, no timing asserted.

Each script starts its own Redis and daphne processes and prints one JSON line
last; the figures themselves belong in docs/performance.md, not here.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BASE_DIR = Path(__file__).resolve().parent.parent

BROADCAST_FIELDS = {
    "clients", "processes", "rate", "duration_s", "changes_sent", "changes_applied", "updates_expected",
    "updates_received", "lost", "p50_ms", "p90_ms", "p99_ms", "max_ms", "server_cpu_s", "server_rss_mb",
    "rss_per_client_kb", "converged", "generator_cpu_s", "limits_off",
}  # fmt: skip
HOSTILE_FIELDS = {
    "lost", "converged", "honest_p50_ms", "honest_p99_ms", "clean_p50_ms", "clean_p99_ms", "rss_growth_mb",
    "stalled_processes", "server_cpu_pct", "changes_unanswered",
}  # fmt: skip
PAGE_FIELDS = {"boxes", "bytes_total", "bytes_state", "server_page_ms", "server_state_ms", "tti_ms"}


def run_benchmark(script, *args, timeout=240):
    finished = subprocess.run(
        [sys.executable, f"benchmarks/{script}", *args],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return json.loads(finished.stdout.strip().splitlines()[-1])


def test_the_broadcast_benchmark_delivers_every_change_to_every_client():
    figures = run_benchmark(
        "broadcast.py", "--clients", "6", "--senders", "2", "--rate", "20", "--duration", "2", "--processes", "2"
    )
    assert figures.keys() >= BROADCAST_FIELDS
    assert figures["changes_applied"] > 0
    assert figures["updates_expected"] == figures["changes_applied"] * 6
    assert figures["lost"] == 0
    assert figures["converged"] is True
    assert figures["p99_ms"] is not None
    # Its senders are bots: it says it ran without the change limits.
    assert figures["limits_off"] == [
        "BOARD_CHANGE_BUCKET",
        "BOARD_NETWORK_CHANGE_BUCKET",
        "BOARD_WIDE_NETWORK_CHANGE_BUCKET",
    ]


def test_a_slow_client_is_paused_then_resyncs_and_converges():
    figures = run_benchmark(
        "broadcast.py",
        *("--clients", "4", "--senders", "1", "--slow-clients", "1", "--rate", "40", "--duration", "4"),
        # A short lag allowance, so the client that stops reading is paused within the run.
        *("--server-env", "BOARD_LAG_FRAMES=40"),
    )
    # Three timed clients: the slow one is neither counted nor waited for.
    assert figures["updates_expected"] == figures["changes_applied"] * 3
    assert figures["lost"] == 0
    assert figures["slow_resyncs"] >= 1
    assert figures["converged_clients"] == 4
    assert figures["converged"] is True


@pytest.mark.browser
def test_the_page_benchmark_measures_a_first_visit():
    figures = run_benchmark("page.py", "--boxes", "1000", "--visits", "1", "--requests", "3")
    assert figures.keys() >= PAGE_FIELDS
    assert figures["boxes"] == 1000
    assert figures["bytes_state"] > 0
    assert figures["bytes_js"] > 0
    assert figures["bytes_total"] >= figures["bytes_state"] + figures["bytes_html"]
    assert figures["tti_ms"] > 0


def test_a_short_soak_converges_with_flat_memory():
    figures = run_benchmark("soak.py", "--duration", "30", timeout=300)
    assert figures["clients"] == 500
    assert figures["lost"] == 0
    assert figures["converged"] is True
    assert len(figures["rss_curve"]) >= 10
    assert all(len(sample["rss_mb"]) == 2 for sample in figures["rss_curve"])
    assert figures["rss_flat"] is True


def test_the_hostile_benchmark_runs_attacked_then_clean():
    figures = run_benchmark(
        "hostile.py", *("--seconds", "5", "--clients", "10", "--rate", "10", "--hostile", "3"), timeout=300
    )
    assert figures.keys() >= HOSTILE_FIELDS
    assert figures["clients"] == 10
    assert sum(figures["attacks"].values()) > 0
    assert figures["clean_p99_ms"] is not None


def test_the_memory_profile_charges_each_socket_to_the_packages_holding_it():
    figures = run_benchmark("memory.py", "--sockets", "20", "--trace")
    assert figures["sockets"] == 20
    assert figures["server_rss_mb"] > figures["server_rss_baseline_mb"] > 0
    by_package = figures["python_bytes_per_socket_by_package"]
    # Every socket holds a daphne protocol object and a consumer of this project's.
    assert by_package["daphne"] > 0
    assert by_package["board"] > 0
    assert figures["python_bytes_per_socket"] >= by_package["daphne"]
