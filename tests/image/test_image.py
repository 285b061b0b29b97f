"""The container image, built from the Dockerfile and run in in-cluster mode with deploy/base's RBAC.

Tier of its own (marker ``image``): the first session on a machine makes the Debian base with
debootstrap (minutes), later ones reuse it and the build's layers (tests/imaging.py)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import time
import tomllib
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.utils import canonicalize_name

from eligibility_operator_dev.controlplane import die_with_parent, free_port

from .. import imaging
from ..builders import engagement, matrix, workload
from ..cluster.test_deploy import for_this_server, render
from ..conftest import REPO, Kubectl, running_operator, wait_for

REASON = imaging.why_not_available()
pytestmark = [
    pytest.mark.skipif(REASON is not None, reason=REASON or ""),
    pytest.mark.timeout(2400),
]
UID = 65532
SA_NAMESPACE = "eligibility-operator"
SECRETS = "/run/secrets/kubernetes.io/serviceaccount"  # /var/run is a symlink to /run: chroot needs the target
VENV = "/opt/eligibility-operator/venv"
APP = "/opt/eligibility-operator/app"


def _report(config: pytest.Config, line: str) -> None:
    """Figures for the log of `make test` (CI), also with -q and captured output."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"[image] {line}")
    with contextlib.suppress(OSError), open(imaging.image_dir() / "timings.log", "a") as log:
        log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")


@pytest.fixture(scope="module")
def buildah() -> imaging.Buildah:
    return imaging.Buildah.for_tests()


@pytest.fixture(scope="module")
def image(buildah: imaging.Buildah, request: pytest.FixtureRequest) -> Iterator[str]:
    base, base_seconds = imaging.ensure_base(buildah)
    made = f"made with debootstrap in {base_seconds:.0f}s" if base_seconds is not None else "cached"
    _report(request.config, f"base {base}: {made} (storage driver {buildah.driver})")
    tag = f"localhost/eligibility-operator:test-{uuid.uuid4().hex[:8]}"
    seconds = imaging.build_image(buildah, base, tag)
    sizes, base_sizes = buildah.layer_sizes(tag), buildah.layer_sizes(base)
    own = [round(s / 1e6, 1) for s in sizes[len(base_sizes) :]]
    _report(
        request.config,
        f"image built in {seconds:.0f}s; {sum(sizes) / 1e6:.0f} MB uncompressed: base {sum(base_sizes) / 1e6:.0f} MB"
        f" + the Dockerfile's layers {own} MB",
    )
    try:
        yield tag
    finally:
        buildah("rmi", tag, check=False)


@contextlib.contextmanager
def container(buildah: imaging.Buildah, image: str) -> Iterator[tuple[str, Path]]:
    """A working container of ``image`` and its root filesystem as seen from the host."""
    name = buildah("from", "--pull-never", image).strip()
    try:
        yield name, Path(buildah("mount", name).strip())
    finally:
        buildah("umount", name, check=False)
        buildah("rm", name, check=False)


def pins(lock: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split(" ")[0].split("==")
            out[canonicalize_name(name)] = version
    return out


def test_image_metadata_user_and_contents(buildah: imaging.Buildah, image: str) -> None:
    config = buildah.inspect(image)["OCIv1"]["config"]  # type: ignore[index]
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert config["User"] == f"{UID}:{UID}"
    assert config["Entrypoint"] == ["eligibility-operator"] and config["Cmd"] == ["run"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == version
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.source"].startswith("https://")
    with container(buildah, image) as (name, root):
        assert (root / "etc/passwd").read_text().count(f":{UID}:{UID}:") == 1
        assert "operator:x:37:" in (root / "etc/group").read_text()  # Debian's own group, left alone
        # Exactly the locked distributions, plus the operator; no installer, no build tools, no dev package.
        script = (
            "import importlib.metadata as m, json; print(json.dumps({d.name: d.version for d in m.distributions()}))"
        )
        listing = buildah("run", "--isolation", "chroot", name, "--", "python3", "-c", script)
        installed: dict[str, str] = {canonicalize_name(k): v for k, v in json.loads(listing).items()}
        assert installed.pop("eligibility-operator") == version
        assert installed == pins(REPO / "requirements.lock")
        assert not (root / "opt/build").exists() and not (root / "src").exists()
        site = root / VENV.lstrip("/") / "lib/python3.11/site-packages"
        assert not (site / "pip").exists() and not (site / "setuptools").exists()
        assert not (site / "kubernetes/aio").exists()
        assert not any((root / p).exists() for p in ("usr/bin/gcc", "usr/bin/cc", "usr/bin/make"))
        app = root / APP.lstrip("/")
        assert (app / "eligibility_operator/data").is_dir()
        assert not list(app.glob("eligibility_operator_dev*")), "development tooling shipped in the image"
        assert not list(app.rglob("fetch-control-plane.sh"))


# ------------------------------------------------------------------- running it in the cluster


@pytest.fixture(scope="module")
def deployed(kubectl: Kubectl) -> str:
    kubectl.run("apply", "-f", "-", input=for_this_server(kubectl, render("deploy/base")))
    return SA_NAMESPACE


@pytest.fixture(scope="module")
def service_account(kubectl: Kubectl, deployed: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The ServiceAccount's token as a pod gets it (a directory to mount), and as a kubeconfig."""
    token = kubectl.run("create", "token", "eligibility-operator", "-n", deployed, "--duration=1h").stdout.strip()
    admin = yaml.safe_load(kubectl.kubeconfig.read_text())
    cluster = admin["clusters"][0]["cluster"]
    secrets = tmp_path_factory.mktemp("serviceaccount")
    (secrets / "token").write_text(token)
    (secrets / "ca.crt").write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    (secrets / "namespace").write_text(deployed)
    for path in (secrets, *secrets.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    kubeconfig = secrets.parent / "sa-kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "sa",
                "clusters": admin["clusters"],
                "users": [{"name": "sa", "user": {"token": token}}],
                "contexts": [{"name": "sa", "context": {"cluster": admin["clusters"][0]["name"], "user": "sa"}}],
            }
        )
    )
    return secrets, kubeconfig


def deployment_container() -> dict[str, Any]:
    deployment = yaml.safe_load((REPO / "deploy/base/deployment.yaml").read_text())
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    return containers[0]


def container_command(config: dict[str, Any], port: int) -> tuple[list[str], dict[str, str]]:
    """The image's entrypoint with the Deployment's args and env; the metrics port made free."""
    spec = deployment_container()
    args = [str(a) for a in spec.get("args", config.get("Cmd") or [])]
    if "--metrics-port" in args:
        args[args.index("--metrics-port") + 1] = str(port)
    else:
        args += ["--metrics-port", str(port)]
    field_values = {"metadata.name": "eligibility-operator-image-test", "metadata.namespace": SA_NAMESPACE}
    env = {}
    for item in spec.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
        elif path := item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath"):
            env[item["name"]] = field_values.get(path, "")
    return [*config["Entrypoint"], *args], env


def descendants(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    children.append(int(entry.name))
    return [grand for child in children for grand in (child, *descendants(child))]


def ids(pid: int) -> tuple[list[int], list[int]]:
    lines = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return [int(x) for x in lines["Uid"].split()], [int(x) for x in lines["Gid"].split()]


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def statuses(kubectl: Kubectl, namespace: str, names: list[str]) -> dict[str, Any]:
    """The engagements' statuses without the times of writing (which differ between two runs)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("lastTransitionTime", "lastEvaluationTime")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return {n: strip(kubectl.get("se", n, "-n", namespace).get("status")) for n in names}


def settled(kubectl: Kubectl, namespace: str, want: dict[str, set[str]]) -> dict[str, Any]:
    """Statuses once every engagement shows one of the wanted eligibilities and two reads a second apart agree."""

    def probe() -> dict[str, Any] | None:
        first = statuses(kubectl, namespace, list(want))
        if any((first[n] or {}).get("eligibility") not in e for n, e in want.items()):
            return None
        time.sleep(1)
        second = statuses(kubectl, namespace, list(want))
        return second if second == first else None

    result: dict[str, Any] = wait_for(probe, timeout=90, what=f"eligibility {want}")
    return result


def test_image_runs_the_operator_in_cluster_like_the_virtualenv(
    buildah: imaging.Buildah,
    image: str,
    kubectl: Kubectl,
    namespace: str,
    service_account: tuple[Path, Path],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    secrets, sa_kubeconfig = service_account
    name = f"m-{namespace}"
    # The end-of-life Reloader limits or removes eligibility (which one is the evaluation's business).
    want = {"good": {"Eligible"}, "bad": {"Limited", "Ineligible"}}
    kubectl.apply(
        matrix(name),
        workload(namespace, "ok", "ghcr.io/stakater/reloader:v1.4.21"),
        workload(namespace, "eol", "stakater/reloader:v1.1.0", kind="DaemonSet"),
        engagement(namespace, "good", matrixRef={"name": name}, products=[{"name": "forecastle"}]),
        engagement(namespace, "bad", matrixRef={"name": name}),
    )
    try:
        # 1. The operator from the virtualenv, with the same ServiceAccount: the reference.
        with running_operator(sa_kubeconfig, tmp_path / "venv-operator.log"):
            reference = settled(kubectl, namespace, want)
        for se in want:
            kubectl.run("patch", "se", se, "-n", namespace, "--subresource=status", "--type=json",
                        "-p", '[{"op": "remove", "path": "/status"}]')  # fmt: skip
        assert all(v is None for v in statuses(kubectl, namespace, list(want)).values())

        # 2. The image, in in-cluster mode: token, CA and namespace mounted where a pod has them.
        server = yaml.safe_load(kubectl.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        host, port = server.removeprefix("https://").rsplit(":", 1)
        metrics_port = free_port()
        config = buildah.inspect(image)["OCIv1"]["config"]  # type: ignore[index]
        command, env = container_command(config, metrics_port)
        with container(buildah, image) as (ctr, root):
            run = ["run", "--isolation", "chroot", "--network", "host",
                   "--mount", f"type=bind,src={secrets},dst={SECRETS},ro",
                   "--env", f"KUBERNETES_SERVICE_HOST={host}", "--env", f"KUBERNETES_SERVICE_PORT={port}",
                   *(f"--env={k}={v}" for k, v in env.items())]  # fmt: skip
            # buildah's own mount points and files exist after a first run; what a run of `true` still
            # changes is buildah's doing each time (it is reported, and not held against the operator).
            buildah(*run, ctr, "--", "true")
            skip = ("proc", "sys", "dev", SECRETS.lstrip("/"))
            first = imaging.snapshot(root, skip)
            buildah(*run, ctr, "--", "true")
            before = imaging.snapshot(root, skip)
            by_buildah = imaging.changes(first, before)
            log_path = tmp_path / "image-operator.log"
            started = time.monotonic()
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(
                    buildah.argv(*run, ctr, "--", *command),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=die_with_parent,
                )
            try:
                wait_for(lambda: _healthy(metrics_port, proc, log_path), timeout=60, what="/healthz of the image")
                healthy_after = time.monotonic() - started
                got = settled(kubectl, namespace, want)
                assert got == reference, "the image's operator wrote another status than the virtualenv's"

                for path in ("/healthz", "/readyz"):
                    assert get(f"http://127.0.0.1:{metrics_port}{path}")[0] == 200, path
                status, metrics = get(f"http://127.0.0.1:{metrics_port}/metrics")
                assert status == 200
                assert f'stakater_support_engagement_eligible{{engagement="good",namespace="{namespace}"' in metrics

                operators = operator_processes(proc.pid)
                assert operators, "no eligibility-operator process under buildah run"
                for pid in operators:
                    uids, gids = ids(pid)
                    assert set(uids) == {UID} and set(gids) == {UID}, (pid, uids, gids)
            finally:
                _stop(proc)
            assert proc.returncode == 0, f"the operator did not stop cleanly on SIGTERM ({proc.returncode})"
            log_text = log_path.read_text(errors="replace")
            assert "403" not in log_text and "Forbidden" not in log_text, log_text[-3000:]
            after = imaging.snapshot(root, skip)
            # The comparison sees writes: a process in the container writing in and outside /tmp.
            buildah(*run, "--user", "0:0", ctr, "--", "sh", "-c", "echo x > /tmp/probe && mkdir /var/probe")
            probed = imaging.changes(after, imaging.snapshot(root, skip))
            assert probed.get("tmp/probe") == "created" and probed.get("var/probe") == "created", probed
        written = imaging.changes(before, after)
        outside_tmp = {
            p: c for p, c in written.items() if p != "tmp" and not p.startswith("tmp/") and by_buildah.get(p) != c
        }
        assert not outside_tmp, f"the operator wrote outside /tmp: {outside_tmp}"
        _report(
            request.config,
            f"image operator healthy {healthy_after:.1f}s after start; changed {len(written)} paths, "
            f"none outside /tmp but what a run of `true` changes too ({sorted(by_buildah)})",
        )
    finally:
        kubectl.run("delete", "compatibilitymatrix", name, "--wait=false", check=False)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _healthy(port: int, proc: subprocess.Popen[bytes], log_path: Path) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"the image's operator exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
    try:
        return get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    except OSError:
        return False


def operator_processes(pid: int) -> list[int]:
    """The operator under `buildah run` (not buildah's own chroot helpers, whose command lines name it too)."""
    return [
        p for p in descendants(pid) if b"eligibility-operator" in _cmdline(p) and not _cmdline(p).startswith(b"buildah")
    ]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the operator, as a kubelet sends it (buildah would answer a SIGTERM with SIGKILL to
    its child); SIGKILL to the whole session if it does not stop within 30 s."""
    if proc.poll() is not None:
        return
    for pid in operator_processes(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
