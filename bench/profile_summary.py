"""Summarise a py-spy raw (collapsed stacks) profile of the gateway under the create benchmark.

    .venv/bin/python bench/profile_summary.py PROFILE [--top 25]

Prints the share of samples per phase of the create request (the deepest matching frame of the
list below decides), then the functions with the most samples on top of the stack (self) and
anywhere in it (inclusive). Line numbers are dropped so a function counts once.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

# (substring of a frame, phase); the deepest frame that matches one of these names the phase.
PHASES: tuple[tuple[str, str], ...] = (
    ("WorkerThread.run", "thread: other"),
    ("create_transaction (ktwidget/services/transactions.py", "thread: use case, other"),
    ("Database.read (", "thread: read txn connect/BEGIN/COMMIT"),
    ("get_by_app_id (", "thread: read merchant"),
    ("usable_app_keys (", "thread: read app keys"),
    ("open_sealed (", "thread: open sealed box"),
    ("_decode_params (", "thread: parse parameters"),
    ("validate_params (", "thread: validate parameters"),
    ("_fingerprint (", "thread: fingerprint"),
    ("_store (", "thread: write txn, other"),
    ("Database.write (", "thread: write txn connect/BEGIN/COMMIT"),
    ("get_by_order (", "thread: write select by order"),
    ("insert_transaction (", "thread: write insert transaction + status"),
    ("enqueue (", "thread: write insert job"),
    ("get (ktwidget/storage/transactions.py", "thread: write re-read transaction"),
    ("Logger.info (", "thread: log transaction_created"),
    ("_on_connect (", "thread: new SQLite connection (PRAGMAs)"),
    ("healthz (", "loop: healthz"),
    ("read_body (", "loop: read body"),
    ("parse_envelope (", "loop: parse envelope"),
    ("JSONResponse.__init__", "loop: render response"),
    ("format_time (", "loop: render response"),
    ("run_in_threadpool (", "loop: thread hand-off"),
)
_LINE = re.compile(r":\d+\)$")


def _function(frame: str) -> str:
    return _LINE.sub(")", frame)


def _phase(frames: list[str]) -> str:
    for frame in reversed(frames):
        for marker, phase in PHASES:
            if marker in frame:
                return phase
    return "loop: uvicorn/starlette/asyncio" if frames else "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    phases: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in args.profile.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        total += count
        phases[_phase(frames)] += count
        if frames:
            self_time[_function(frames[-1])] += count
        for name in {_function(f) for f in frames}:
            inclusive[name] += count
    if not total:
        print("no samples", file=sys.stderr)
        return 1
    print(f"{total} samples\n\nby phase:")
    for phase, count in sorted(phases.items(), key=lambda kv: -kv[1]):
        print(f"  {100 * count / total:5.1f}%  {phase}")
    print("\nself (top of stack):")
    for name, count in self_time.most_common(args.top):
        print(f"  {100 * count / total:5.1f}%  {name}")
    print("\ninclusive:")
    for name, count in inclusive.most_common(args.top):
        print(f"  {100 * count / total:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
