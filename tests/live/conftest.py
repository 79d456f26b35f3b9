"""Real JACK servers for the live tests, on a machine kept busy on purpose.

Every JACK test runs against each server named in COMPOSER_JACK_SERVERS (see MODES below): by
default the synchronous dummy server (`jackd -S --no-realtime -d dummy -r 48000 -p 32`), and on
request jackd's realtime asynchronous default (`async-rt`: `jackd -R`) or the non-realtime
asynchronous one (`async`). Each server gets a unique name; JACK_DEFAULT_SERVER points to it. While the live
tests run, one CPU-bound process per core keeps the machine busy, as a DAW, plugins and a browser would. Servers and load processes die
with pytest even when it is killed (PR_SET_PDEATHSIG), and stop themselves after LOAD_SECONDS anyway.
Without a jackd binary the JACK tests skip (``.ci/run`` installs Debian's jackd2).
"""

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest

from composer.live.ports import PortError, list_ports
from tests.live.live_receiver import Receiver

JACKD = shutil.which("jackd")
SERVER_FLAGS = {
    "async-rt": ["-R"],  # jackd's own default: asynchronous and realtime
    "async": ["--no-realtime"],
    "sync": ["--no-realtime", "-S"],
}
# The default suite runs the synchronous server, which no late cycle can make lose a message.
# `async-rt` is jackd's realtime asynchronous default (`-R`), the server a user runs; on this shared
# 2-core VM (PREEMPT_NONE kernel) its cycles still run late when the box is loaded beyond the two
# CPU-bound processes below, JACK's own C example clients included, and a late cycle on an
# asynchronous server drops MIDI: exact-count tests on it failed in some runs through no fault of
# composer's (benchmarks/RESULTS.md, "Live on an asynchronous server, continued"), so it runs on
# request: COMPOSER_JACK_SERVERS=sync,async-rt. `async` (non-realtime) loses more. Where the OS
# refuses realtime scheduling `jackd -R` quietly runs as `async`: then the async-rt tests skip.
MODES = [m for m in os.environ.get("COMPOSER_JACK_SERVERS", "sync").split(",") if m in SERVER_FLAGS]
LOAD_SECONDS = 900  # a load process that outlives this was orphaned: it stops itself


def _die_with_pytest():
    """In the child: ask the kernel for SIGKILL when pytest (the parent) dies, however it dies."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    os.setpgrp()  # and a group of its own: Ctrl-C in the terminal goes to pytest only


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module", autouse=True)
def busy_machine():
    """One CPU-bound process per core while each live test module runs (LOAD_SECONDS at most);
    module scope, so the rest of the suite runs on a quiet machine."""
    spin = f"import time\nend = time.monotonic() + {LOAD_SECONDS}\nwhile time.monotonic() < end: pass"
    procs = [
        subprocess.Popen([sys.executable, "-c", spin], preexec_fn=_die_with_pytest)
        for _ in range(os.cpu_count() or 2)
    ]
    try:
        yield len(procs)
    finally:
        for proc in procs:
            _stop(proc)


@pytest.fixture(scope="session", params=MODES)
def jack(request, tmp_path_factory):
    """The name of a running JACK dummy server (48 kHz, 32-frame periods), asynchronous or synchronous."""
    if JACKD is None:
        pytest.skip(
            "jackd is not installed (apt-get install -y --no-install-recommends jackd2; .ci/run does)"
        )
    name = f"composer-test-{request.param}-{uuid.uuid4().hex[:8]}"
    saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_AUDIO_RESERVATION")}
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_AUDIO_RESERVATION"] = "1"  # no D-Bus device reservation in containers
    log_path = tmp_path_factory.mktemp("jack") / "jackd.log"
    log = open(log_path, "wb")
    cmd = [JACKD, *SERVER_FLAGS[request.param], "-n", name, "-d", "dummy", "-r", "48000", "-p", "32"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_pytest)
    try:
        _wait_ready(proc)
        if request.param == "async-rt" and b"Cannot use real-time scheduling" in log_path.read_bytes():
            pytest.skip("jackd -R could not get realtime scheduling here (needs CAP_SYS_NICE or rtprio)")
        yield name
    finally:
        _stop(proc)
        log.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


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
    pytest.fail(f"jackd did not become ready within {timeout:g} s")


@pytest.fixture
def receiver(jack):
    rx = Receiver()
    yield rx
    rx.close()
