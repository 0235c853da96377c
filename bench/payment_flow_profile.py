"""Summarise a py-spy raw (collapsed stacks) profile of the gateway under the payment-flow benchmark.

    .venv/bin/python bench/payment_flow_profile.py PROFILE [--top 25]

Prints the share of samples per step of a payment (the deepest frame matching the list below
decides: the use case a worker thread runs, or what the event loop does), per thread when the
profile was recorded with ``--threads`` (the event loop is ``MainThread``), per library of the
frame on top of the stack, and the functions with the most samples on top of the stack (self) and
anywhere in it (inclusive). Line numbers are dropped so a function counts once. Record with
``--gil`` for where the CPU under the GIL goes, without it for all running threads (C code that
releases the GIL included), with ``--idle`` for waits too.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

# (substring of a frame, step); the deepest frame that matches one of these names the step.
STEPS: tuple[tuple[str, str], ...] = (
    ("WorkerThread.run", "thread: other"),
    ("prepare_transaction (", "create: open the box, validate (thread)"),
    ("store_transaction (", "create: store (thread)"),
    ("_GroupCommit.", "create: group commit (its thread)"),
    ("get_transaction (ktwidget/services/transactions.py", "pages: load the transaction (thread)"),
    ("start_payment (ktwidget/services/payments.py", "payment page: open the bank order (thread)"),
    ("Bank.get (", "bank card page: load the order (thread)"),
    ("Bank.submit_card (", "bank: card submitted, hold (thread)"),
    ("accept_hold_result (", "bank result applied, twice a payment (thread)"),
    ("run_capture (", "worker: capture job (thread)"),
    ("run_expire (", "worker: expire job (thread)"),
    ("JobRunner._claim (", "worker: claim jobs (thread)"),
    ("JobRunner._record (", "worker: record job outcomes (thread)"),
    ("DeliveryDispatcher", "worker: notification dispatcher"),
    ("JobRunner.", "worker: job runner loop"),
    (
        "create_default_context (ssl.py",
        "loop: bank result: a new SSL context (AsyncClient per call)",
    ),
    ("_finish (ktwidget/sandbox/routes.py", "loop: bank result: POST to the gateway (client side)"),
    ("Template.render", "loop: render HTML (Jinja)"),
    ("get_template", "loop: find the template (Jinja)"),
    ("create_transaction (ktwidget/http/widget_api.py", "loop: create endpoint"),
    ("healthz (", "loop: healthz"),
    ("run_in_threadpool (", "loop: thread hand-off"),
    ("RequestResponseCycle", "loop: uvicorn/Starlette/FastAPI request handling"),
    ("HttpToolsProtocol", "loop: uvicorn HTTP parsing"),
)
_LINE = re.compile(r":\d+\)$")
_FILE = re.compile(r"\(([^():]+)(?::\d+)?\)$")
_THREAD = re.compile(r"^thread \(0?x?[0-9a-fA-F]+\): ?(.*)$")


def _function(frame: str) -> str:
    return _LINE.sub(")", frame)


def _step(frames: list[str]) -> str:
    for frame in reversed(frames):
        for marker, step in STEPS:
            if marker in frame:
                return step
    return "loop: other (asyncio/uvloop, idle)" if frames else "?"


def _library(frame: str) -> str:
    """The package of a frame's file: ``sqlalchemy`` for ``sqlalchemy/engine/base.py``."""
    match = _FILE.search(frame)
    if match is None:
        return "?"
    path = match.group(1).lstrip("<").rstrip(">")
    head = path.split("/", 1)[0]
    return head.removesuffix(".py")


def _thread(name: str) -> str:
    if name.startswith("MainThread"):
        return "MainThread (event loop)"
    if name.startswith("AnyIO worker thread"):
        return "AnyIO worker threads"
    return name or "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)

    steps: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    libraries: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in args.profile.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = _THREAD.match(frames[0])
        if thread is not None:
            threads[_thread(thread.group(1))] += count
            frames = frames[1:]
        if not frames:
            continue
        total += count
        steps[_step(frames)] += count
        libraries[_library(frames[-1])] += count
        own[_function(frames[-1])] += count
        for name in {_function(f) for f in frames}:
            inclusive[name] += count
    if not total:
        print("no samples", file=sys.stderr)
        return 1

    def show(title: str, counter: Counter[str], top: int | None = None) -> None:
        print(f"\n{title}:")
        for name, count in counter.most_common(top):
            print(f"  {100 * count / total:6.1f}%  {name}")

    print(f"{total} samples in {args.profile}")
    show("by step of the payment (deepest matching frame)", steps)
    if threads:
        show("by thread", threads)
    show("by library (top of the stack)", libraries, args.top)
    show("self (top of the stack)", own, args.top)
    show("inclusive", inclusive, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
