"""
A long run at a steady load: does every client stay in sync, and does server
memory stay flat?

500 clients on 2 daphne processes, every one of them changing random boxes
(``--rate`` changes per second in total), for 10 minutes by default. The RSS of
every server process is sampled throughout; ``rss_curve`` in the JSON is the
curve, and ``rss_flat`` says whether memory after the warm-up (the first tenth
of the run) grew by no more than ``--flat-tolerance`` (default 5%, at least
5 MB) by the end. Built on benchmarks/broadcast.py, so the JSON also carries
``lost``, ``converged`` and the latency figures.

    .venv/bin/python benchmarks/soak.py                 # 10 minutes
    .venv/bin/python benchmarks/soak.py --duration 30   # the version make test runs
"""

import json
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import broadcast  # noqa: E402

DEFAULTS = {"clients": 500, "processes": 2, "senders": 500, "rate": 100, "duration": 600}


def parse_args(argv=None):
    argv = list(argv if argv is not None else sys.argv[1:])
    tolerance = 0.05
    if "--flat-tolerance" in argv:
        at = argv.index("--flat-tolerance")
        tolerance = float(argv[at + 1])
        del argv[at : at + 2]
    given = {arg.split("=")[0] for arg in argv if arg.startswith("--")}
    for name, value in DEFAULTS.items():
        if f"--{name}" not in given:
            argv += [f"--{name}", str(value)]
    if "--senders" not in given and "--clients" in given:
        # Every client sends unless told otherwise.
        argv[argv.index("--senders") + 1] = argv[argv.index("--clients") + 1]
    options = broadcast.parse_args(argv)
    if "--sample-seconds" not in given:
        options.sample_seconds = max(1.0, options.duration / 60)
    return options, tolerance


def curve(samples):
    return [
        {"t_s": sample["t_s"], "total_mb": round(sum(sample["rss_mb"]), 1), "rss_mb": sample["rss_mb"]}
        for sample in samples
    ]


def flatness(samples, tolerance):
    """RSS after the warm-up compared with RSS at the end."""
    totals = [sum(sample["rss_mb"]) for sample in samples]
    warm = totals[len(totals) // 10]
    end = totals[-1]
    growth = end - warm
    return {
        "rss_warm_mb": round(warm, 1),
        "rss_end_mb": round(end, 1),
        "rss_peak_mb": round(max(totals), 1),
        "rss_growth_mb": round(growth, 1),
        "rss_growth_pct": round(100 * growth / warm, 2),
        "rss_flat": growth <= max(5.0, tolerance * warm),
    }


def main(argv=None):
    options, tolerance = parse_args(argv)
    figures = broadcast.run(options)
    samples = figures.pop("rss_samples")
    figures.update(flatness(samples, tolerance))
    figures["rss_curve"] = curve(samples)
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
