"""`leadloop serve --with-worker` stops its worker whether it is stopped by Ctrl-C or SIGTERM."""

import os
import signal
import socket
import subprocess
import sys

import pytest

from tests.core.support import wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has exited
        return stat.read().split()[2] != "Z"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_stopping_serve_stops_its_worker(tmp_path, stop):
    env = {**os.environ, "LEADLOOP_VAR_DIR": str(tmp_path), "LEADLOOP_HTTPS": "0"}
    env.pop("DATABASE_URL", None)  # a SQLite file of its own under tmp_path
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "leadloop.cli", "serve", "--port", str(port), "--with-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        children = []

        def worker_started() -> bool:
            found = subprocess.run(["pgrep", "-P", str(serve.pid)], capture_output=True, text=True)
            children[:] = [int(pid) for pid in found.stdout.split()]
            return bool(children)

        def listening() -> bool:
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0

        assert wait_for(worker_started) and wait_for(listening)
        serve.send_signal(stop)
        serve.wait(timeout=20)
        assert wait_for(lambda: not any(alive(pid) for pid in children), 15), children
    finally:
        if serve.poll() is None:
            serve.kill()
