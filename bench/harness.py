"""What the benchmarks share: servers as subprocesses on loopback, and the `ktwidget` CLI."""

from __future__ import annotations

import json
import os
import shlex
import shutil
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


@contextmanager
def py_spy(servers: Sequence[Server], output: str | None, options: str) -> Iterator[list[str]]:
    """Record each of ``servers`` with py-spy (raw collapsed stacks) while the block runs."""
    if output is None:
        yield []
        return
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        raise RuntimeError("--py-spy needs py-spy: .venv/bin/pip install py-spy")
    spies: list[tuple[subprocess.Popen[bytes], Server]] = []
    files: list[str] = []
    try:
        for server in servers:
            out = str(output).replace("{process}", server.name)
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            argv = [exe, "record", "--pid", str(server.process.pid), "--format", "raw", "-o", out]
            with (server.log_path.parent / f"py-spy-{server.name}.log").open("wb") as log:
                spy = subprocess.Popen(
                    [*argv, *shlex.split(options)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
                )
            spies.append((spy, server))
            files.append(out)
        time.sleep(1.0)  # let them attach
        for spy, server in spies:
            if spy.poll() is not None:
                log_text = (server.log_path.parent / f"py-spy-{server.name}.log").read_text(
                    errors="replace"
                )
                raise RuntimeError(f"py-spy exited: {log_text}")
        yield files
    finally:
        for spy, _ in spies:
            if spy.poll() is None:
                spy.send_signal(signal.SIGINT)
        for spy, _ in spies:
            try:
                spy.wait(timeout=60)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait(timeout=10)
        for out in files:
            found = "" if Path(out).exists() else " (NOT written: see py-spy-*.log with --keep)"
            progress(f"  py-spy profile: {out}{found}")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
