"""The review parser process ends with the operator, however the operator ends (issue 23)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from eligibility_operator.core.admission.reviews import read_review
from eligibility_operator.runtime.serving.parser import ParserProcess

from ..processes import gone_within, running

# A stand-in for the operator: it starts a parser, proves it parses, says its pid, and waits to be killed.
OWNER = """
import sys, time
from eligibility_operator.runtime.serving.parser import ParserProcess
parser = ParserProcess()
assert parser.submit(len, b"abc").result(timeout=60) == 3
print(parser.pid(), flush=True)
time.sleep(600)
"""


def start_owner() -> tuple[subprocess.Popen[str], int]:
    owner = subprocess.Popen([sys.executable, "-c", OWNER], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    pid = int(owner.stdout.readline())
    assert running(pid) and pid != owner.pid
    return owner, pid


def test_parser_ends_when_its_owner_is_killed() -> None:
    owner, parser = start_owner()
    try:
        time.sleep(0.5)  # still there while the owner lives
        assert running(parser)
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        assert gone_within(parser, 10), f"parser {parser} outlived its SIGKILLed owner"
    finally:
        owner.kill()
        if running(parser):
            subprocess.run(["kill", "-9", str(parser)], check=False)


def test_parser_ends_when_closed_and_parses_until_then() -> None:
    parser = ParserProcess()
    try:
        body = b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","object":{}}}'
        uid, _ = parser.submit(read_review, body).result(timeout=60)
        assert uid == "u1"
        pid = parser.pid()
        assert pid is not None and running(pid)
    finally:
        parser.close()
    assert gone_within(pid, 10)
