"""The operator's one login: a kubeconfig's token and files (relative to the kubeconfig, as kubectl
reads them), in a session that carries them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from eligibility_operator.runtime.kube import connection as kubeconn


def test_kubeconfig_token_and_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = {
        "clusters": [
            {"name": "c", "cluster": {"server": "https://127.0.0.1:6443/", "certificate-authority": "ca.crt"}}
        ],
        "users": [{"name": "u", "user": {"token": "s3cret"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "ns"}}],
        "current-context": "x",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.setattr(kubeconn, "SERVICE_ACCOUNT", tmp_path / "no-such-dir")
    info = kubeconn.login()
    assert info.server == "https://127.0.0.1:6443/" and info.token == "s3cret"
    assert info.ca_path == str(tmp_path / "ca.crt")
    connection = kubeconn.Connection(info.server.rstrip("/"), None, {**info.as_http_headers(), "User-Agent": "t"})  # type: ignore[arg-type]
    assert connection.headers["Authorization"] == "Bearer s3cret"


def test_service_account_in_a_pod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "token").write_text("pod-token\n")
    (tmp_path / "namespace").write_text("ops")
    monkeypatch.setattr(kubeconn, "SERVICE_ACCOUNT", tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    info = kubeconn.login()
    assert info.server == "https://[fd00::1]:443" and info.token == "pod-token" and info.default_namespace == "ops"
    assert info.ca_path is None  # no ca.crt here: the system's trust store
