"""The Kubernetes client calls the operator makes are accepted by the installed client version.

The client checks keyword arguments before it connects, so pointing it at a closed loopback port shows
whether a call is valid for this version (``make test-lowest`` runs this with the lowest one allowed):
``kubernetes`` 29 to 35 refuse ``_content_type`` on status patches with ApiTypeError.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from urllib3.exceptions import HTTPError

from eligibility_operator.runtime.kube.api import KubeClient


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def api() -> KubeClient:
    configuration = client.Configuration()
    configuration.host = f"http://127.0.0.1:{_closed_port()}"
    configuration.retries = False
    return KubeClient(client.ApiClient(configuration))


CALLS: dict[str, Callable[[KubeClient], Any]] = {
    "namespaced status patch": lambda k: k.replace_status("supportengagements", "ns", "x", {"eligibility": "Eligible"}),
    "cluster status patch": lambda k: k.replace_status("compatibilitymatrices", None, "x", {"products": 1}),
    "event": lambda k: k.emit_event(
        namespace="ns", name="x", uid="u", kind="SupportEngagement", reason="R", message="m", warning=True
    ),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_call_reaches_the_network(api: KubeClient, call: str) -> None:
    with pytest.raises(HTTPError):  # connection refused: the arguments were accepted
        CALLS[call](api)
