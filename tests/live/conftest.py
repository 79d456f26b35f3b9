"""A real JACK server for the live tests: jackd's dummy driver under a unique name, started and killed here.

Every test talks to it through real rtmidi clients; ``Receiver`` timestamps each message on arrival.
Without a jackd binary the live tests skip (``.ci/run`` installs Debian's jackd2).
"""

import os
import shutil
import subprocess
import time
import uuid

import pytest
from live_receiver import Receiver

from composer.live.ports import PortError, list_ports

JACKD = shutil.which("jackd")


@pytest.fixture(scope="session")
def jack(tmp_path_factory):
    """The name of a running JACK dummy server (48 kHz, 32-frame periods); JACK_DEFAULT_SERVER points to it."""
    if JACKD is None:
        pytest.skip(
            "jackd is not installed (apt-get install -y --no-install-recommends jackd2; .ci/run does)"
        )
    name = f"composer-test-{uuid.uuid4().hex[:8]}"
    saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_AUDIO_RESERVATION")}
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_AUDIO_RESERVATION"] = "1"  # no D-Bus device reservation in containers
    log = open(tmp_path_factory.mktemp("jack") / "jackd.log", "wb")
    cmd = [JACKD, *_server_mode(), "-n", name, "-d", "dummy", "-r", "48000", "-p", "32"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_ready(proc)
        yield name
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _server_mode():
    """Realtime where this process may use SCHED_FIFO (as a DAW setup would), else --no-realtime.

    Either way in synchronous mode (-S): on a loaded machine the default asynchronous mode drops
    MIDI events of clients that miss a cycle (measured here: 4-6 of 242 messages per run on a
    2-core box shared with training runs), which would make the tests flaky for the server's sake.
    """
    try:
        old = os.sched_getscheduler(0), os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        os.sched_setscheduler(0, *old)
        return ["-R", "-P", "70", "-S"]
    except (AttributeError, OSError):
        return ["--no-realtime", "-S"]


def _wait_ready(proc, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"jackd exited with status {proc.returncode} before it was ready")
        try:
            list_ports("jack")
            return
        except PortError:
            time.sleep(0.1)
    pytest.fail("jackd did not become ready within 15 s")


@pytest.fixture
def receiver(jack):
    rx = Receiver()
    yield rx
    rx.close()
