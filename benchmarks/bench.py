"""
The standard benchmark set of issue 4 (what ``make bench`` runs), checked
against its targets and written into docs/performance.md.

Each run is one of the benchmark scripts, started as a subprocess so every run
gets fresh servers; its JSON line is kept in benchmarks/results/. The results
section of docs/performance.md (between the ``results`` markers) is rewritten;
the rest of that page (how to reproduce, profiles, findings) is prose kept by
hand.

    .venv/bin/python benchmarks/bench.py                 # the standard set
    .venv/bin/python benchmarks/bench.py --only page-100k --only idle
    .venv/bin/python benchmarks/bench.py --soak          # also the 10-minute soak
"""

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = BASE_DIR / "benchmarks" / "results"
DOC = BASE_DIR / "docs" / "performance.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"


@dataclass
class Run:
    name: str
    title: str
    script: str
    args: list
    # (field, "<=" or "==", value): every one must hold for the run to meet its target.
    targets: list = field(default_factory=list)
    shown: list = field(default_factory=list)

    @property
    def command(self):
        return " ".join(["python", f"benchmarks/{self.script}", *self.args])


DELIVERY = ["p50_ms", "p99_ms", "max_ms", "lost", "converged", "server_cpu_pct", "generator_cpu_s"]

RUNS = [
    Run(
        "fanout-1000",
        "1,000 clients, 100 changes/s, 60 s, 2 processes",
        "broadcast.py",
        "--clients 1000 --senders 10 --rate 100 --duration 60 --processes 2".split(),
        [("lost", "==", 0), ("converged", "==", True), ("p99_ms", "<=", 200)],
        DELIVERY,
    ),
    Run(
        "fanout-5000",
        "5,000 clients, 50 changes/s, 60 s",
        "broadcast.py",
        "--clients 5000 --senders 10 --rate 50 --duration 60 --processes 2".split(),
        [("lost", "==", 0), ("converged", "==", True), ("p99_ms", "<=", 1000)],
        DELIVERY + ["rss_per_client_kb"],
    ),
    Run(
        "writes-2000",
        "500 clients, 200 senders, 2,000 changes/s, 30 s",
        "broadcast.py",
        "--clients 500 --senders 200 --rate 2000 --duration 30 --processes 2".split(),
        [("lost", "==", 0), ("converged", "==", True), ("p99_ms", "<=", 500)],
        DELIVERY + ["changes_applied", "redis_cpu_s"],
    ),
    Run(
        "idle",
        "idle: 5,000 clients connected, no changes",
        "broadcast.py",
        "--clients 5000 --senders 0 --rate 0 --duration 20 --processes 1".split(),
        [("rss_per_client_kb", "<=", 40)],
        ["server_rss_mb", "server_rss_baseline_mb", "rss_per_client_marginal_kb", "converged"],
    ),
    Run(
        "slow-clients",
        "1,000 clients of which 20 stop reading, 100 changes/s, 60 s, 2 processes",
        "broadcast.py",
        "--clients 1000 --senders 10 --slow-clients 20 --rate 100 --duration 60 --processes 2".split(),
        [("lost", "==", 0), ("converged", "==", True), ("p99_ms", "<=", 200)],
        DELIVERY + ["slow_resyncs", "slow_reconnects", "server_rss_mb"],
    ),
    Run(
        "hostile",
        "500 honest players, 100 changes/s, 2 processes, 50 hostile clients for 5 minutes, then none",
        "hostile.py",
        [],
        [
            ("lost", "==", 0),
            ("converged", "==", True),
            ("p99_ratio", "<=", 2),
            ("rss_growth_mb", "<=", 50),
            ("stalled_processes", "==", 0),
        ],
        ["honest_p50_ms", "honest_p99_ms", "clean_p50_ms", "clean_p99_ms", "changes_unanswered", "server_cpu_pct"],
    ),
    Run(
        "page-100k",
        "page, 100,000 boxes",
        "page.py",
        ["--boxes", "100000"],
        [("bytes_total", "<=", 60_000), ("server_page_ms", "<=", 20), ("tti_ms", "<=", 1000)],
        ["bytes_state", "server_state_ms", "checked"],
    ),
    Run(
        "page-1m",
        "page, 1,000,000 boxes",
        "page.py",
        ["--boxes", "1000000"],
        [("bytes_total", "<=", 250_000), ("server_state_ms", "<=", 20), ("tti_ms", "<=", 1500)],
        ["bytes_state", "server_page_ms", "checked"],
    ),
]

SOAK = Run(
    "soak",
    "soak: 500 clients all changing boxes, 100 changes/s, 10 minutes, 2 processes",
    "soak.py",
    [],
    [("lost", "==", 0), ("converged", "==", True), ("rss_flat", "==", True)],
    ["p50_ms", "p99_ms", "rss_warm_mb", "rss_end_mb", "rss_growth_mb", "server_cpu_pct"],
)


def progress(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def wait_for_quiet(max_load, patience):
    """Full-scale runs on a busy machine measure the neighbours: wait for the load to settle."""
    deadline = time.monotonic() + patience
    while os.getloadavg()[0] > max_load and time.monotonic() < deadline:
        progress(f"load {os.getloadavg()[0]:.2f} > {max_load}; waiting")
        time.sleep(15)
    return round(os.getloadavg()[0], 2)


def execute(run, max_load, patience):
    load = wait_for_quiet(max_load, patience)
    progress(f"{run.name}: {run.command} (load {load})")
    finished = subprocess.run(
        [sys.executable, f"benchmarks/{run.script}", *run.args], cwd=BASE_DIR, capture_output=True, text=True
    )
    if finished.returncode != 0:
        progress(f"{run.name} failed:\n{finished.stderr[-2000:]}")
        return {"error": finished.stderr.strip().splitlines()[-1] if finished.stderr.strip() else "failed"}
    figures = json.loads(finished.stdout.strip().splitlines()[-1])
    figures.update(load_before=load, measured_at=time.strftime("%Y-%m-%d %H:%M"))
    return figures


def holds(figures, name, op, value):
    actual = figures.get(name)
    if actual is None:
        return False
    return actual <= value if op == "<=" else actual == value


def verdict(run, figures):
    if "error" in figures:
        return False
    return all(holds(figures, *target) for target in run.targets)


def fmt(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 100 else f"{value:g}"
    return str(value)


def target_text(run):
    return ", ".join(f"`{name}` {'≤' if op == '<=' else '='} {fmt(value)}" for name, op, value in run.targets)


def figures_text(run, figures):
    if "error" in figures:
        return f"failed: {figures['error']}"
    names = [name for name, _, _ in run.targets] + run.shown
    seen, parts = set(), []
    for name in names:
        if name in seen or name not in figures:
            continue
        seen.add(name)
        parts.append(f"`{name}` {fmt(figures[name])}")
    return ", ".join(parts)


def render(results, runs, machine):
    lines = [
        START,
        "",
        f"Measured on {machine.get('cores')} cores, Python {machine.get('python')}, "
        f"Redis {machine.get('redis')}, with the load generator on the same cores. "
        "`load` is the 1-minute load average just before the run (other work on the machine included).",
        "",
        "| run | target | measured | met | load, when |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        figures = results.get(run.name)
        if figures is None:
            continue
        met = "**yes**" if verdict(run, figures) else "**no**"
        lines.append(
            f"| {run.title} | {target_text(run)} | {figures_text(run, figures)} | {met} | "
            f"{fmt(figures.get('load_before', ''))}, {figures.get('measured_at', '')} |"
        )
    lines += curves(results)
    lines += ["", "Commands (from the project directory, with `.venv/bin/` before `python`):", ""]
    lines += [f"- {run.title}: `{run.command}`" for run in runs if run.name in results]
    lines += ["", END]
    return "\n".join(lines)


def curves(results):
    """The soak's RSS curve: about a dozen points of both processes' RSS together."""
    samples = results.get(SOAK.name, {}).get("rss_curve")
    if not samples:
        return []
    step = max(1, len(samples) // 12)
    points = ", ".join(f"{sample['t_s']:.0f} s: {sample['total_mb']:.1f}" for sample in samples[::step])
    return ["", f"Soak RSS of both server processes together (MB) over the run: {points}."]


def write_doc(section):
    text = DOC.read_text() if DOC.exists() else f"# Performance\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text += f"\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(head + section + tail)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = [run.name for run in RUNS + [SOAK]]
    parser.add_argument("--only", action="append", choices=names, help="run only these (repeatable)")
    parser.add_argument("--soak", action="store_true", help="also run the 10-minute soak")
    parser.add_argument("--max-load", type=float, default=1.0, help="wait until the 1-minute load is below this")
    parser.add_argument("--patience", type=float, default=600, help="seconds to wait for a quiet machine per run")
    parser.add_argument("--no-doc", action="store_true", help="print the table instead of writing the doc")
    return parser.parse_args(argv)


def main(argv=None):
    options = parse_args(argv)
    runs = [run for run in RUNS + [SOAK] if run.name in (options.only or [])]
    if not options.only:
        runs = RUNS + [SOAK] if options.soak else list(RUNS)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    latest_path = RESULTS_DIR / "latest.json"
    # Runs not repeated this time keep their last figures in the table.
    results = json.loads(latest_path.read_text()) if latest_path.exists() else {}
    for run in runs:
        results[run.name] = execute(run, options.max_load, options.patience)
        latest_path.write_text(json.dumps(results, indent=1))
    (RESULTS_DIR / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(results, indent=1))
    machine = next((figures["machine"] for figures in results.values() if "machine" in figures), {})
    section = render(results, RUNS + [SOAK], machine)
    if options.no_doc:
        print(section)
    else:
        write_doc(section)
        progress(f"wrote {DOC.relative_to(BASE_DIR)}")
    failed = [run.name for run in runs if not verdict(run, results[run.name])]
    if failed:
        progress(f"targets not met: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
