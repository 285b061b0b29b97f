"""The review parser process ends with the operator, even when the operator is SIGKILLed, and only then:
not when the thread that happened to start it ends (PR_SET_PDEATHSIG's trap)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

# A stand-in for the operator: starts the webhook's parser process from a thread that then ends, prints
# its pid, shows the parser still answers after that thread is gone, then waits to be killed.
_OPERATOR = """
import os, sys, threading, time
from eligibility_operator.webhook import _parser_process
pool = _parser_process()
box = []
starter = threading.Thread(target=lambda: box.append(pool.submit(os.getpid).result(timeout=60)))
starter.start(); starter.join()
time.sleep(0.5)
print(box[0], pool.submit(os.getpid).result(timeout=10), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(sys.platform != "linux", reason="the operator runs on Linux")
def test_parser_process_outlives_its_starting_thread_and_dies_with_a_killed_operator() -> None:
    operator = subprocess.Popen([sys.executable, "-c", _OPERATOR], stdout=subprocess.PIPE, text=True)
    parser = 0
    try:
        assert operator.stdout is not None
        first, again = (int(p) for p in operator.stdout.readline().split())
        parser = first
        assert first == again, "the parser process was replaced after its starting thread ended"
        assert parser != operator.pid and _alive(parser)
        operator.send_signal(signal.SIGKILL)
        operator.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(parser) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(parser), "the parser process outlived the SIGKILLed operator"
    finally:
        operator.kill()
        operator.wait(timeout=10)
        if parser and _alive(parser):  # never leave it behind, whatever the verdict
            os.kill(parser, signal.SIGKILL)
