"""The review parser process ends with the operator, even when the operator is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

# A stand-in for the operator: starts the webhook's parser process, prints its pid, then waits to be killed.
_OPERATOR = """
import os, sys, time
from eligibility_operator.webhook import _parser_process
pool = _parser_process()
print(pool.submit(os.getpid).result(timeout=60), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_parser_process_dies_with_a_killed_operator() -> None:
    operator = subprocess.Popen([sys.executable, "-c", _OPERATOR], stdout=subprocess.PIPE, text=True)
    try:
        assert operator.stdout is not None
        parser = int(operator.stdout.readline())
        assert parser != operator.pid and _alive(parser)
        operator.send_signal(signal.SIGKILL)
        operator.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(parser) and time.monotonic() < deadline:
            time.sleep(0.05)
        alive = _alive(parser)
        if alive:  # do not leave it behind, whatever the verdict
            os.kill(parser, signal.SIGKILL)
        assert not alive, "the parser process outlived the SIGKILLed operator"
    finally:
        operator.kill()
        operator.wait(timeout=10)
