"""One wall-clock deadline for a whole matrix fetch, against real misbehaving TLS servers on 127.0.0.1: a
trickling body, a stall after the headers, headers sent a byte at a time, a connection never accepted
(backlog full, or accepted by the kernel and never answered), a huge declared length, redirect loops,
and a document and signature that each beat the deadline but not together. Over https://, oci:// (oras),
``check --matrix`` and ``matrix build``: each ends within the deadline plus 2 s, with the reason."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from eligibility_operator.cli import main
from eligibility_operator.matrix_source import Reason, SourceError, fetch
from eligibility_operator.runtime.serving.webhook import ServingCert

from ..builders import engagement
from ..matrix_servers import Misbehaving, misbehaving_server, serving_cert, unaccepted_port

DEADLINE = 3.0
SLACK = 2.0
DIGEST = "sha256:" + "0" * 64


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> ServingCert:
    return serving_cert(tmp_path_factory.mktemp("cert"))


@pytest.fixture
def server(cert: ServingCert) -> Iterator[Misbehaving]:
    with misbehaving_server(cert, pace=0.4) as state:
        yield state


def _timed(call: Callable[[], Any]) -> tuple[SourceError, float]:
    started = time.monotonic()
    with pytest.raises(SourceError) as err:
        call()
    took = time.monotonic() - started
    print(f"\n[deadline] {err.value.reason} after {took:.2f} s: {err.value.message[:100]}")  # -s shows them
    return err.value, took


def _fetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fetch ")]


def _no_worker_left() -> None:
    """The stuck worker was woken by shutting its socket down: no fetch thread piles up."""
    end = time.monotonic() + SLACK
    while _fetch_threads() and time.monotonic() < end:
        time.sleep(0.05)
    assert not _fetch_threads(), _fetch_threads()


@pytest.mark.parametrize("path", ["/trickle/m.yaml", "/stall/m.yaml", "/slowheaders/m.yaml", "/hop/0"])
@pytest.mark.parametrize("scheme", ["https", "oci"])
def test_a_source_that_never_finishes_times_out_on_time(server: Misbehaving, path: str, scheme: str) -> None:
    url = server.url(path) if scheme == "https" else f"oci://127.0.0.1:{server.port}{path.rstrip('/')}:v1"
    error, took = _timed(lambda: fetch(url, ca_bundle=server.ca_pem, timeout=DEADLINE))
    assert error.reason == Reason.TIMED_OUT, error
    assert "did not finish within 3 s" in error.message
    assert DEADLINE - 0.2 < took < DEADLINE + SLACK, took
    _no_worker_left()


def test_document_and_signature_share_one_deadline(server: Misbehaving) -> None:
    """Each file takes ~2.8 s, under the 3 s deadline; together they do not fit."""
    error, took = _timed(lambda: fetch(server.url("/slowdoc/m.yaml"), ca_bundle=server.ca_pem, timeout=DEADLINE))
    assert error.reason == Reason.TIMED_OUT and took < DEADLINE + SLACK, (error, took)
    assert server.requests == ["/slowdoc/m.yaml", "/slowdoc/m.yaml.sig"]
    alone = fetch(server.url("/slowdoc/m.yaml"), ca_bundle=server.ca_pem, timeout=DEADLINE, with_signature=False)
    assert alone.document == b"# slow\n"


@pytest.mark.parametrize("full", [True, False], ids=["backlog-full", "never-accepted"])
def test_a_connection_never_accepted_times_out(cert: ServingCert, full: bool) -> None:
    with unaccepted_port(full) as port:
        for url in (f"https://127.0.0.1:{port}/m.yaml", f"oci://127.0.0.1:{port}/m:v1"):
            error, took = _timed(functools.partial(fetch, url, ca_bundle=cert.ca_pem.decode(), timeout=DEADLINE))
            assert error.reason == Reason.TIMED_OUT and DEADLINE - 0.2 < took < DEADLINE + SLACK, (url, error, took)
    _no_worker_left()


def test_a_huge_declared_length_is_refused_at_once(server: Misbehaving) -> None:
    for url in (server.url("/huge/m.yaml"), f"oci://127.0.0.1:{server.port}/huge:v1"):
        error, took = _timed(functools.partial(fetch, url, ca_bundle=server.ca_pem, timeout=DEADLINE))
        assert error.reason == Reason.TOO_LARGE and "1000000000000000 bytes" in error.message, error
        assert took < SLACK, took


def test_a_redirect_loop_ends_with_the_reason(server: Misbehaving) -> None:
    error, took = _timed(lambda: fetch(server.url("/loop/m.yaml"), ca_bundle=server.ca_pem, timeout=DEADLINE))
    assert error.reason == Reason.SOURCE_UNREACHABLE and "redirect" in error.message and took < SLACK, error


def _invoke(*args: str) -> tuple[Any, float]:
    started = time.monotonic()
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result, time.monotonic() - started


def test_check_with_a_stalled_matrix_exits_4_on_time(server: Misbehaving, tmp_path: Path) -> None:
    (tmp_path / "se.yaml").write_text(yaml.safe_dump(engagement("ns", "contract")))
    (tmp_path / "ca.pem").write_text(server.ca_pem)
    (tmp_path / "app.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: ns}\n")
    result, took = _invoke(
        "check", "-f", str(tmp_path / "app.yaml"), "--engagement", str(tmp_path / "se.yaml"),
        "--matrix", server.url("/trickle/m.yaml"), "--matrix-digest", DIGEST,
        "--matrix-ca-bundle", str(tmp_path / "ca.pem"), "--matrix-timeout", "3s",
    )  # fmt: skip
    assert result.exit_code == 4 and "TimedOut" in result.stderr and "within 3 s" in result.stderr, result.output
    assert took < DEADLINE + SLACK, took


def test_matrix_build_with_a_stalled_index_exits_4_on_time(server: Misbehaving, tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text(server.ca_pem)
    for path in ("/trickle/index.yaml", "/stall/index.yaml"):
        result, took = _invoke(
            "matrix", "build", "--chart-index", server.url(path), "--ca-bundle", str(tmp_path / "ca.pem"),
            "--timeout", "3s",
        )  # fmt: skip
        assert result.exit_code == 4 and "(TimedOut)" in result.stderr, result.output
        assert result.stdout == "" and took < DEADLINE + SLACK, took
    untrusted, _ = _invoke("matrix", "build", "--chart-index", server.url("/stall/index.yaml"), "--timeout", "3s")
    assert untrusted.exit_code == 4 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr, untrusted.output
