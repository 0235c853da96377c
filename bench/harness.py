"""What the benchmarks share: servers as subprocesses on loopback, and the `ktwidget` CLI."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0  # 0: not listening, or not known here

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
            )


@contextmanager
def running(
    name: str, argv: Sequence[str], env: dict[str, str], workdir: Path, port: int = 0
) -> Iterator[Server]:
    """Start a process, stop it (SIGINT, then SIGKILL after 10 s) when the block ends."""
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(argv),
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(name, process, log_path, port)
    try:
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def wait_ready(server: Server, timeout: float, port: int | None = None) -> None:
    """Wait until ``/healthz`` answers 200 on ``port`` (default: the server's own)."""
    deadline = time.monotonic() + timeout
    url = f"http://{HOST}:{port or server.port}/healthz"
    while time.monotonic() < deadline:
        server.check_alive()
        try:
            if httpx.get(url, timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} not ready after {timeout:.0f} s:\n{server.log_tail()}")


def ktwidget_cli() -> list[str]:
    """The installed ``ktwidget`` script beside this interpreter, else ``python -m ktwidget``."""
    script = Path(sys.executable).with_name("ktwidget")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "ktwidget"]


def run_cli(env: dict[str, str], workdir: Path, *args: str) -> str:
    done = subprocess.run(
        [*ktwidget_cli(), *args],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"ktwidget {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def create_merchant(env: dict[str, str], workdir: Path) -> dict[str, Any]:
    out = run_cli(
        env, workdir, "merchant", "create", "--name", "Bench", "--domain", "localhost", "--json"
    )
    creds: dict[str, Any] = json.loads(out)
    return creds
