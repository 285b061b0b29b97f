"""A real local Kubernetes control plane (etcd + kube-apiserver) on loopback.

Like controller-runtime's envtest: no kubelet, no controller-manager, just an
API server backed by etcd, which is all an operator that reads workload specs
and writes custom-resource status needs.

Binaries: ``$KUBE_APISERVER`` / ``$ETCD`` if set, else the ones on ``PATH``,
else the cache (``$XDG_CACHE_HOME`` or ``~/.cache``, ``eligibility-operator/bin``),
which ``fetch-control-plane.sh`` fills (etcd from Debian, kube-apiserver built
from Debian's source package) on first use.

Children get ``PR_SET_PDEATHSIG`` so that they die with the process that
started them, even when it is killed with SIGKILL: nothing is left behind.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

FETCH_SCRIPT = "fetch-control-plane.sh"
_PR_SET_PDEATHSIG = 1


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(os.environ.get("EO_CACHE_DIR") or os.path.join(base, "eligibility-operator"))


def _find(env: str, name: str) -> Path | None:
    if os.environ.get(env):
        path = Path(os.environ[env])
        if not os.access(path, os.X_OK):
            raise FileNotFoundError(f"${env}={path} is not an executable")
        return path
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    cached = cache_dir() / "bin" / name
    return cached if os.access(cached, os.X_OK) else None


def ensure_binaries() -> tuple[Path, Path]:
    """Paths of kube-apiserver and etcd, fetching and building them on first use."""
    apiserver, etcd = _find("KUBE_APISERVER", "kube-apiserver"), _find("ETCD", "etcd")
    if apiserver is None or etcd is None:
        script = Path(__file__).with_name(FETCH_SCRIPT)
        subprocess.run(["bash", str(script)], check=True, env={**os.environ, "EO_CACHE_DIR": str(cache_dir())})
        apiserver, etcd = _find("KUBE_APISERVER", "kube-apiserver"), _find("ETCD", "etcd")
    if apiserver is None or etcd is None:
        raise FileNotFoundError("kube-apiserver or etcd still missing after fetch-control-plane.sh")
    return apiserver, etcd


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this (child) process when its parent dies; for preexec_fn."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _service_account_keys(directory: Path) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private, public = directory / "sa.key", directory / "sa.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    private.chmod(0o600)
    return private, public


@dataclass
class ControlPlane:
    """One etcd and one kube-apiserver in a private temporary directory."""

    workdir: Path | None = None
    keep_workdir: bool = False
    etcd_port: int = 0
    apiserver_port: int = 0
    token: str = ""
    _processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _apiserver_argv: list[str] = field(default_factory=list)
    _owns_workdir: bool = False

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    @property
    def kubeconfig(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "kubeconfig"

    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self.etcd_port}"

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self._processes.items()}

    # ------------------------------------------------------------------ start

    def start(self, timeout: float = 90.0) -> ControlPlane:
        apiserver, etcd = ensure_binaries()
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="eo-controlplane-"))
            self._owns_workdir = True
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_etcd(etcd)
            self._start_apiserver(apiserver)
            self._wait_ready(timeout)
            self._write_kubeconfig()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, argv: list[str]) -> None:
        assert self.workdir is not None
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
        self._processes[name] = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            start_new_session=True,
        )
        log.close()

    def _start_etcd(self, etcd: Path) -> None:
        assert self.workdir is not None
        self.etcd_port = self.etcd_port or free_port()
        peer = free_port()
        self._spawn(
            "etcd",
            [
                str(etcd),
                "--name=default",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=default=http://127.0.0.1:{peer}",
                "--log-level=warn",
            ],
        )

    def _start_apiserver(self, apiserver: Path) -> None:
        assert self.workdir is not None
        self.apiserver_port = self.apiserver_port or free_port()
        self.token = self.token or secrets.token_urlsafe(32)
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(f'{self.token},admin,admin-uid,"system:masters"\n')
        tokens.chmod(0o600)
        private, public = _service_account_keys(self.workdir)
        certs = self.workdir / "certs"
        certs.mkdir(exist_ok=True)
        self._apiserver_argv = [
            str(apiserver),
            f"--etcd-servers={self.etcd_url}",
            f"--secure-port={self.apiserver_port}",
            "--bind-address=127.0.0.1",
            "--insecure-port=0",
            f"--cert-dir={certs}",
            f"--token-auth-file={tokens}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={public}",
            f"--service-account-signing-key-file={private}",
            "--api-audiences=https://kubernetes.default.svc.cluster.local",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true",
            "--v=0",
        ]
        self._spawn("kube-apiserver", self._apiserver_argv)

    def _probe(self, path: str) -> bool:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, context=context, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self._processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.workdir}/{name}.log")
            if self._probe("/readyz"):
                return
            time.sleep(0.25)
        raise TimeoutError(f"kube-apiserver not ready within {timeout}s; see {self.workdir}/kube-apiserver.log")

    def _write_kubeconfig(self) -> None:
        assert self.workdir is not None
        ca = (self.workdir / "certs" / "apiserver.crt").read_bytes()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "local",
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": base64.b64encode(ca).decode(),
                    },
                }
            ],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
            "current-context": "local",
        }
        self.kubeconfig.write_text(yaml.safe_dump(config))
        self.kubeconfig.chmod(0o600)

    # --------------------------------------------------------- fault injection

    def stop_apiserver(self) -> None:
        """Stop only the API server (etcd keeps the data); ``start_apiserver`` brings it back."""
        proc = self._processes.pop("kube-apiserver")
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def start_apiserver(self, timeout: float = 60.0) -> None:
        """Start the API server again on the same port, with the same certificates and token."""
        self._spawn("kube-apiserver", self._apiserver_argv)
        self._wait_ready(timeout)

    def signal(self, name: str, signum: int) -> None:
        """Send a signal to ``etcd`` or ``kube-apiserver`` (e.g. SIGSTOP/SIGCONT to freeze it)."""
        self._processes[name].send_signal(signum)

    def compact_etcd(self) -> int:
        """Compact etcd up to its current revision, so that older resource versions are gone; returns it."""
        import json

        def post(path: str, body: dict[str, object]) -> dict[str, object]:
            request = urllib.request.Request(
                self.etcd_url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                result: dict[str, object] = json.loads(response.read())
                return result

        header = post("/v3/kv/range", {"key": base64.b64encode(b"/").decode()})["header"]
        revision = int(header["revision"])  # type: ignore[index]
        post("/v3/kv/compaction", {"revision": revision, "physical": True})
        return revision

    # ------------------------------------------------------------------- stop

    def stop(self, grace: float = 10.0) -> None:
        """Stop the API server, then etcd; SIGKILL what does not exit in ``grace`` seconds."""
        for name in ("kube-apiserver", "etcd"):
            proc = self._processes.pop(name, None)
            if proc is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._owns_workdir and not self.keep_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def running(workdir: Path | None = None) -> Iterator[ControlPlane]:
    plane = ControlPlane(workdir=workdir)
    with plane:
        yield plane


def serve(workdir: Path) -> None:
    """Run a control plane in the foreground until SIGTERM/SIGINT (``make cluster-up``)."""
    plane = ControlPlane(workdir=workdir, keep_workdir=True)
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    plane.start()
    (workdir / "ready").write_text(plane.url + "\n")
    print(f"control plane ready at {plane.url}; KUBECONFIG={plane.kubeconfig}", flush=True)
    try:
        while not stop:
            for name, proc in plane._processes.items():
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}", file=sys.stderr, flush=True)
                    stop = True
            time.sleep(0.5)
    finally:
        plane.stop()
        (workdir / "ready").unlink(missing_ok=True)
