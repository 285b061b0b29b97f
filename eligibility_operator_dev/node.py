"""A real one-node Kubernetes cluster on this machine (``make node-up`` / ``make node-down``).

etcd, kube-apiserver, kube-controller-manager and kube-scheduler as the local control plane does
it, plus containerd, the kubelet and kube-proxy, so that the operator runs as customers run it: pods
from its image, started by a Deployment. The recipe and its pitfalls are measured on this kind of
machine (docs/development.md, "A real node"):

- the API server listens on loopback only, advertises the bridge address ``10.244.0.1`` (the
  ``kubernetes`` Service's endpoint), and a socat relay on that address forwards to it for pods;
- containerd runs with ``restrict_oom_score_adj = true``: without CAP_SYS_RESOURCE in the bounding set
  (as here), runc cannot give the pause container its negative OOM score and no pod starts;
- pods sit on the bridge ``eo0`` (10.244.0.0/24) and a FORWARD rule drops whatever they send beyond it.

Everything lives in one fixed directory (``<cache>/node``; logs in ``<cache>/node-logs``), with fixed
ports and names: one node per machine. The processes outlive ``node-up`` (their PIDs are in
``pids/``); ``node-down`` stops them and removes every trace (processes, mounts, bridge, iptables
chains, cgroups, network namespaces), then checks that nothing is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from . import node_host as host
from .controlplane import cache_dir

if TYPE_CHECKING:
    from tests.imaging import Buildah

NODE_NAME = "eo-node"
OPERATOR_IMAGE = "localhost/eligibility-operator:dev"
PAUSE_IMAGE = "localhost/pause:eo"
APISERVER_PORT = 6443
ETCD_PORTS = (23790, 23800)
CNI_BIN = Path("/usr/lib/cni")
CNI_NETWORK = "eo-net"
CNI_STATE = Path("/var/lib/cni")  # host-local's address leases and the cached results, per network
# Start order; stop order is the reverse.
COMPONENTS = (
    "containerd",
    "etcd",
    "kube-apiserver",
    "socat",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
)
KUBE_BINARIES = ("kube-apiserver", "kubelet", "kube-controller-manager", "kube-scheduler", "kube-proxy")
# command -> Debian package, for the message when one is missing.
REQUIRED_COMMANDS = {
    "containerd": "containerd",
    "containerd-shim-runc-v2": "containerd",
    "ctr": "containerd",
    "runc": "runc",
    "socat": "socat",
    "conntrack": "conntrack",
    "ip": "iproute2",
    "iptables": "iptables",
    "gcc": "gcc",
    "kubectl": "kubernetes-client",
    "buildah": "buildah",
    "debootstrap": "debootstrap",
}
# Bits of /proc/self/status CapEff the node needs (capabilities(7)).
REQUIRED_CAPS = {"CAP_NET_ADMIN": 12, "CAP_SYS_ADMIN": 21, "CAP_NET_RAW": 13}


class NodeError(Exception):
    """node-up or node-down cannot go on; the message says why and what to do."""


def node_dir() -> Path:
    return Path(os.environ.get("EO_NODE_DIR") or cache_dir() / "node")


def log_dir() -> Path:
    return Path(os.environ.get("EO_NODE_LOG_DIR") or cache_dir() / "node-logs")


def kubeconfig_path() -> Path:
    return node_dir() / "pki" / "admin.kubeconfig"


def socket_path() -> Path:
    return node_dir() / "run" / "containerd.sock"


def say(message: str) -> None:
    print(f"[node] {message}", flush=True)


# ------------------------------------------------------------------ processes


def _pidfile(name: str) -> Path:
    return node_dir() / "pids" / f"{name}.pid"


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def pid_of(name: str) -> int | None:
    """The PID of our running ``name``: from its pidfile, and only if that process is still ours
    (same executable name), so that a reused PID is never signalled."""
    try:
        pid = int(_pidfile(name).read_text())
    except (OSError, ValueError):
        return None
    if not _alive(pid):
        return None
    argv = _cmdline(pid)
    if argv:
        return pid if Path(argv[0]).name == name else None
    # Just after exec the command line can still read empty; the kernel's name (15 characters) is set.
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None
    return pid if comm == name[:15] else None


def log_tail(name: str, lines: int = 30) -> str:
    path = log_dir() / f"{name}.log"
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:])


def dead_components() -> list[str]:
    """The components whose process has gone, each with its log's tail (for a failing test)."""
    return [
        f"{name} is not running; last lines of {log_dir() / name}.log:\n{log_tail(name)}"
        for name in COMPONENTS
        if pid_of(name) is None
    ]


_children: dict[str, subprocess.Popen[bytes]] = {}


def _spawn(name: str, argv: list[str]) -> int:
    log_dir().mkdir(parents=True, exist_ok=True)
    with open(log_dir() / f"{name}.log", "ab") as log:
        log.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    _pidfile(name).parent.mkdir(parents=True, exist_ok=True)
    _pidfile(name).write_text(f"{proc.pid}\n")
    _children[name] = proc
    return proc.pid


def _exit_status(name: str) -> str:
    """How a component started by this process ended (for the error message), if it did."""
    proc = _children.get(name)
    code = proc.poll() if proc is not None else None
    if code is None:
        return ""
    return f" (exit status {code})" if code >= 0 else f" (killed by signal {-code})"


def _stop(pid: int, grace: float = 15.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
    # Reap it if it happens to be our child (node-up failed and cleans up in the same process).
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def wait_until(check: Callable[[], bool], timeout: float, what: str, watch: tuple[str, ...] = ()) -> None:
    """Poll ``check``; fail at once with its log's tail if one of ``watch`` dies, else after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name in watch:
            if pid_of(name) is None:
                raise NodeError(
                    f"{name} exited{_exit_status(name)} while waiting for {what}; last lines of its log:\n"
                    f"{log_tail(name)}"
                )
        if check():
            return
        time.sleep(0.5)
    tails = "\n".join(f"--- {name}:\n{log_tail(name, 15)}" for name in watch)
    raise NodeError(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")


def _shims() -> list[int]:
    """containerd-shim processes of our containerd (found by its socket in their command line)."""
    sock = str(socket_path())
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            argv = _cmdline(int(entry.name))
            if argv and "containerd-shim" in Path(argv[0]).name and sock in argv:
                pids.append(int(entry.name))
    return pids


def _cgroup_processes() -> list[int]:
    """Processes still in our cgroups (containers whose shim is gone)."""
    pids: set[int] = set()
    for top in host.cgroups():
        for procs in top.rglob("cgroup.procs"):
            with contextlib.suppress(OSError, ValueError):
                pids.update(int(p) for p in procs.read_text().split())
    return sorted(pids)


# ------------------------------------------------------------------ preflight


def preflight() -> None:
    """Stop early, naming the fix, when this machine cannot run a node."""
    if os.geteuid() != 0:
        raise NodeError("a node needs root (containerd, iptables, network namespaces, cgroups): run as root")
    missing = {cmd: pkg for cmd, pkg in REQUIRED_COMMANDS.items() if not shutil.which(cmd)}
    if not (CNI_BIN / "bridge").exists():
        missing[str(CNI_BIN / "bridge")] = "containernetworking-plugins"
    if missing:
        names = ", ".join(f"{cmd} (Debian package {pkg})" for cmd, pkg in missing.items())
        packages = " ".join(sorted(set(missing.values())))
        raise NodeError(f"missing: {names}. Install them: `make system-deps` or apt-get install {packages}")
    status = Path("/proc/self/status").read_text()
    effective = int(next(line.split()[1] for line in status.splitlines() if line.startswith("CapEff:")), 16)
    lacking = [cap for cap, bit in REQUIRED_CAPS.items() if not effective & (1 << bit)]
    if lacking:
        raise NodeError(
            f"this process lacks {', '.join(lacking)}: run node-up as root in a privileged environment "
            "(a container needs --privileged)"
        )
    if not Path("/sys/fs/cgroup").is_dir() or not any(Path("/sys/fs/cgroup").iterdir()):
        raise NodeError("no cgroup file system at /sys/fs/cgroup: mount it (the kubelet needs cgroups)")


def ensure_kube_binaries() -> dict[str, Path]:
    """The five Kubernetes binaries and pause.c, built by fetch-control-plane.sh on first use."""
    binaries = {name: cache_dir() / "bin" / name for name in (*KUBE_BINARIES, "etcd")}
    pause = cache_dir() / "src" / "pause.c"
    if not all(os.access(p, os.X_OK) for p in binaries.values()) or not pause.is_file():
        say("building the Kubernetes binaries (first run: about 10 minutes on 2 cores)")
        script = Path(__file__).with_name("fetch-control-plane.sh")
        result = subprocess.run(
            ["bash", str(script)], check=False, env={**os.environ, "EO_CACHE_DIR": str(cache_dir())}
        )
        if result.returncode != 0:
            raise NodeError(f"fetch-control-plane.sh failed ({result.returncode}); see its output above")
    return binaries


# ------------------------------------------------------------------ images


def build_images() -> list[Path]:
    """The operator image from the working tree and a pause image, as OCI archives for containerd."""
    from tests import imaging  # the image tests' buildah path: debootstrap base, cached layers

    reason = imaging.why_not_available()
    if reason:
        raise NodeError(f"cannot build the operator image: {reason}")
    buildah = imaging.Buildah.for_tests()
    started = time.monotonic()
    base, base_seconds = imaging.ensure_base(buildah)
    if base_seconds is not None:
        say(f"made the Debian base image with debootstrap in {base_seconds:.0f}s")
    seconds = imaging.build_image(buildah, base, OPERATOR_IMAGE)
    say(f"built {OPERATOR_IMAGE} from the working tree in {seconds:.0f}s")
    if not buildah.exists(PAUSE_IMAGE):
        _build_pause(buildah)
    archives = []
    out = node_dir() / "images"
    out.mkdir(parents=True, exist_ok=True)
    for image in (PAUSE_IMAGE, OPERATOR_IMAGE):
        archive = out / (image.rsplit("/", 1)[1].replace(":", "_") + ".tar")
        archive.unlink(missing_ok=True)
        buildah("push", image, f"oci-archive:{archive}:{image}")
        archives.append(archive)
    say(f"images ready in {time.monotonic() - started:.0f}s")
    return archives


def _build_pause(buildah: Buildah) -> None:
    """The pause container from Kubernetes' own pause.c, statically linked, on an empty image."""
    work = node_dir() / "pause-build"
    work.mkdir(parents=True, exist_ok=True)
    binary = work / "pause"
    host.run("gcc", "-Os", "-static", "-DVERSION=v3.4.1-eo", "-o", str(binary), str(cache_dir() / "src" / "pause.c"))
    host.run("strip", str(binary), check=False)
    container = buildah("from", "scratch").strip()
    try:
        buildah("copy", container, str(binary), "/pause")
        buildah("config", "--entrypoint", '["/pause"]', "--user", "65535:65535", container)
        buildah("commit", container, PAUSE_IMAGE)
    finally:
        buildah("rm", container, check=False)
    shutil.rmtree(work, ignore_errors=True)


def _ctr(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return host.run(
        "ctr", "--address", str(socket_path()), "--namespace", "k8s.io", *args, check=check, timeout=timeout
    )


def load_images(archives: list[Path]) -> None:
    for archive in archives:
        _ctr("images", "import", str(archive), timeout=300)
        archive.unlink(missing_ok=True)
    present = _ctr("images", "list", "--quiet").stdout.split()
    for image in (PAUSE_IMAGE, OPERATOR_IMAGE):
        if image not in present:
            raise NodeError(f"{image} is not in containerd after the import; it has: {present}")
    say(f"loaded {OPERATOR_IMAGE} and {PAUSE_IMAGE} into containerd")


# ------------------------------------------------------------------ configuration files


def _write_configs() -> None:
    root = node_dir()
    cni = root / "cni"
    cni.mkdir(parents=True, exist_ok=True)
    (cni / "10-eo.conflist").write_text(
        json.dumps(
            {
                "cniVersion": "0.4.0",
                "name": CNI_NETWORK,
                "plugins": [
                    {
                        "type": "bridge",
                        "bridge": host.BRIDGE,
                        "isGateway": True,
                        "ipMasq": False,
                        "hairpinMode": True,
                        "ipam": {
                            "type": "host-local",
                            "ranges": [[{"subnet": host.POD_CIDR, "gateway": host.GATEWAY}]],
                            "routes": [{"dst": "0.0.0.0/0"}],
                        },
                    },
                    {"type": "portmap", "capabilities": {"portMappings": True}},
                ],
            },
            indent=2,
        )
    )
    (root / "containerd.toml").write_text(
        f"""version = 2
root = "{root / "containerd" / "root"}"
state = "{root / "containerd" / "state"}"
[grpc]
  address = "{socket_path()}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{root / "containerd" / "opt"}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  # Required here: no CAP_SYS_RESOURCE in the bounding set, so runc cannot set the pause container's
  # oom_score_adj to -998; this clamps container scores to containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{cni}"
"""
    )
    pki = root / "pki"
    (root / "kubelet.yaml").write_text(
        json.dumps(
            {
                "apiVersion": "kubelet.config.k8s.io/v1beta1",
                "kind": "KubeletConfiguration",
                "address": host.GATEWAY,
                "readOnlyPort": 0,
                "healthzBindAddress": "127.0.0.1",
                "authentication": {
                    "anonymous": {"enabled": False},
                    "webhook": {"enabled": False},
                    "x509": {"clientCAFile": str(pki / "ca.crt")},
                },
                "authorization": {"mode": "AlwaysAllow"},
                "cgroupDriver": "cgroupfs",
                "failSwapOn": False,
                "clusterDomain": "cluster.local",
                "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
                # The images exist only locally: image garbage collection must never remove them.
                "imageGCHighThresholdPercent": 100,
                "imageGCLowThresholdPercent": 99,
                "serializeImagePulls": False,
            },
            indent=2,
        )
    )


def _argv(name: str, binaries: dict[str, Path]) -> list[str]:
    root, pki = node_dir(), node_dir() / "pki"
    kube = {
        "kube-controller-manager": pki / "controller-manager.kubeconfig",
        "kube-scheduler": pki / "scheduler.kubeconfig",
    }
    if name == "containerd":
        return [shutil.which("containerd") or "containerd", "--config", str(root / "containerd.toml")]
    if name == "etcd":
        client, peer = (f"http://127.0.0.1:{p}" for p in ETCD_PORTS)
        return [
            str(binaries["etcd"]),
            "--name=default",
            f"--data-dir={root / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=default={peer}",
            "--log-level=warn",
        ]
    if name == "kube-apiserver":
        return [
            str(binaries[name]),
            f"--etcd-servers=http://127.0.0.1:{ETCD_PORTS[0]}",
            "--bind-address=127.0.0.1",
            f"--secure-port={APISERVER_PORT}",
            "--insecure-port=0",
            f"--advertise-address={host.GATEWAY}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--token-auth-file={pki / 'tokens.csv'}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--api-audiences=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={host.SERVICE_CIDR}",
            f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
            "--kubelet-preferred-address-types=InternalIP",
        ]
    if name == "socat":
        # Pods reach the API server (loopback only) through the bridge address it advertises.
        return [
            shutil.which("socat") or "socat",
            f"TCP-LISTEN:{APISERVER_PORT},bind={host.GATEWAY},reuseaddr,fork",
            f"TCP:127.0.0.1:{APISERVER_PORT}",
        ]
    if name == "kube-controller-manager":
        config = kube[name]
        return [
            str(binaries[name]),
            f"--kubeconfig={config}",
            f"--authentication-kubeconfig={config}",
            f"--authorization-kubeconfig={config}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--port=0",
            "--secure-port=10257",
            # 20 requests/s by default: each new or changed Deployment costs one status update, so the 10,000
            # of `make bench BENCH_ARGS=--in-pod` would keep it (and the operator's own Deployment) 8 min behind.
            "--kube-api-qps=200",
            "--kube-api-burst=400",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            "--use-service-account-credentials=true",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            f"--service-cluster-ip-range={host.SERVICE_CIDR}",
            # Quick reaction in the failover tests (a deleted pod's replacement, endpoints).
            "--node-monitor-grace-period=20s",
        ]
    if name == "kube-scheduler":
        config = kube[name]
        return [
            str(binaries[name]),
            f"--kubeconfig={config}",
            f"--authentication-kubeconfig={config}",
            f"--authorization-kubeconfig={config}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--port=0",
            "--secure-port=10259",
        ]
    if name == "kubelet":
        return [
            str(binaries[name]),
            f"--kubeconfig={pki / 'node.kubeconfig'}",
            f"--config={root / 'kubelet.yaml'}",
            "--container-runtime=remote",
            f"--container-runtime-endpoint=unix://{socket_path()}",
            f"--pod-infra-container-image={PAUSE_IMAGE}",
            f"--hostname-override={NODE_NAME}",
            f"--node-ip={host.GATEWAY}",
            f"--root-dir={root / 'kubelet'}",
            f"--cert-dir={root / 'kubelet' / 'pki'}",
        ]
    if name == "kube-proxy":
        return [
            str(binaries[name]),
            f"--kubeconfig={pki / 'proxy.kubeconfig'}",
            "--proxy-mode=iptables",
            f"--hostname-override={NODE_NAME}",
            f"--cluster-cidr={host.POD_CIDR}",
            "--bind-address=127.0.0.1",
            "--healthz-bind-address=127.0.0.1:10256",
            "--metrics-bind-address=127.0.0.1:10249",
            "--conntrack-max-per-core=0",
            f"--nodeport-addresses={host.GATEWAY}/32",
        ]
    raise KeyError(name)


# ------------------------------------------------------------------ up


def kubectl(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return host.run("kubectl", "--kubeconfig", str(kubeconfig_path()), *args, check=check, timeout=timeout)


def _api_ready() -> bool:
    return kubectl("get", "--raw", "/readyz", check=False, timeout=10).returncode == 0


def _node_ready() -> bool:
    result = kubectl(
        "get", "node", NODE_NAME, "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].status}', check=False
    )
    return result.stdout.strip() == "True"


def running() -> bool:
    """Every component of a node is running (from this directory)."""
    return all(pid_of(name) is not None for name in COMPONENTS)


def stale() -> list[str]:
    """Traces of a node that is not (fully) running: an earlier run was killed or failed."""
    found = [f"process {name} (pid {pid_of(name)})" for name in COMPONENTS if pid_of(name) is not None]
    found += [f"process containerd-shim (pid {pid})" for pid in _shims()]
    if node_dir().exists():
        found.append(f"directory {node_dir()}")
    return found + host.leftovers(node_dir())


def up(timeout: float = 180.0) -> Path:
    """Start the node (or reuse the running one), load the operator image; the admin kubeconfig."""
    preflight()
    binaries = ensure_kube_binaries()
    if running() and _api_ready():
        say("a node is already running; rebuilding and loading the operator image")
        load_images(build_images())
        wait_until(_node_ready, timeout, f"node {NODE_NAME} Ready", watch=COMPONENTS)
        return kubeconfig_path()
    leftover = stale()
    if leftover:
        say("cleaning up what an earlier node left: " + "; ".join(leftover[:6]))
        down()
    started = time.monotonic()
    archives = build_images()  # before anything starts: the slow part, and a build error leaves no node
    try:
        _start(binaries, timeout)
        load_images(archives)
        wait_until(_node_ready, timeout, f"node {NODE_NAME} Ready", watch=COMPONENTS)
        wait_until(_default_service_account, 60, "the default ServiceAccount", watch=COMPONENTS)
    except BaseException:
        say("node-up failed; removing what it started")
        with contextlib.suppress(Exception):
            down(quiet=True)
        raise
    say(f"node {NODE_NAME} Ready {time.monotonic() - started:.0f}s after the start (images included)")
    return kubeconfig_path()


def _default_service_account() -> bool:
    return kubectl("get", "serviceaccount", "default", "-n", "default", check=False).returncode == 0


def _start(binaries: dict[str, Path], timeout: float) -> None:
    from .node_pki import make_pki

    root = node_dir()
    root.mkdir(parents=True, exist_ok=True)
    state = {
        "sysctls": host.read_sysctls(),
        # The kubelet writes container logs below /var/log whatever its root directory is.
        "created": [str(p) for p in (Path("/var/log/pods"), Path("/var/log/containers"), CNI_STATE) if not p.exists()],
    }
    (root / "state.json").write_text(json.dumps(state))
    make_pki(
        root / "pki",
        node=NODE_NAME,
        server=f"https://127.0.0.1:{APISERVER_PORT}",
        server_names=[
            "127.0.0.1",
            "10.0.0.1",
            host.GATEWAY,
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ],
    )
    _write_configs()
    socket_path().parent.mkdir(parents=True, exist_ok=True)
    host.create_bridge()
    host.block_egress()
    _spawn("containerd", _argv("containerd", binaries))
    wait_until(lambda: _ctr("version", check=False, timeout=10).returncode == 0, 60, "containerd", ("containerd",))
    for name in ("etcd", "kube-apiserver"):
        _spawn(name, _argv(name, binaries))
    wait_until(_api_ready, timeout, "kube-apiserver /readyz", ("etcd", "kube-apiserver"))
    for name in COMPONENTS[3:]:
        _spawn(name, _argv(name, binaries))


# ------------------------------------------------------------------ down


def _delete_pods() -> None:
    """Let the kubelet remove every pod itself (CNI teardown, volume unmounts) while it still runs."""
    if pid_of("kube-apiserver") is None or pid_of("kubelet") is None:
        return
    for name in ("kube-controller-manager", "kube-scheduler"):  # nothing recreates them
        if (pid := pid_of(name)) is not None:
            _stop(pid)
    kubectl("delete", "pods", "--all", "--all-namespaces", "--grace-period=2", "--timeout=60s", check=False, timeout=90)


def _stop_all() -> None:
    """Pods through the API, then the kubelet and kube-proxy, the containers, the rest in reverse order."""
    with contextlib.suppress(Exception):
        _delete_pods()
    for name in ("kube-proxy", "kubelet"):
        if (pid := pid_of(name)) is not None:
            _stop(pid)
    if pid_of("containerd") is not None:
        tasks = _ctr("tasks", "list", "--quiet", check=False).stdout.split()
        for task in tasks:
            _ctr("tasks", "kill", "--signal", "SIGKILL", task, check=False)
        for task in tasks:
            _ctr("tasks", "delete", "--force", task, check=False)
        for container in _ctr("containers", "list", "--quiet", check=False).stdout.split():
            _ctr("containers", "delete", container, check=False)
    for name in reversed(COMPONENTS):
        if (pid := pid_of(name)) is not None:
            _stop(pid)
    for pid in _shims() + _cgroup_processes():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _remove_files(root: Path) -> None:
    """The files the node wrote outside its directory (only those it created), then the directory."""
    state: dict[str, object] = {}
    with contextlib.suppress(OSError, ValueError):
        state = json.loads((root / "state.json").read_text())
    sysctls = state.get("sysctls")
    if isinstance(sysctls, dict):
        host.restore_sysctls({str(k): str(v) for k, v in sysctls.items()})
    created = state.get("created")
    for path in created if isinstance(created, list) else []:
        shutil.rmtree(str(path), ignore_errors=True)
    shutil.rmtree(CNI_STATE / "networks" / CNI_NETWORK, ignore_errors=True)
    for result in (CNI_STATE / "results").glob(f"{CNI_NETWORK}-*"):
        result.unlink(missing_ok=True)
    shutil.rmtree(root, ignore_errors=True)


def down(quiet: bool = False) -> None:
    """Stop every process of the node and remove everything it made; fail if anything is left."""
    root = node_dir()
    started = {name: pid for name in COMPONENTS if (pid := pid_of(name)) is not None}
    _stop_all()
    proxy = cache_dir() / "bin" / "kube-proxy"
    if proxy.exists():
        host.run(str(proxy), "--cleanup", check=False)
    host.remove_iptables()
    host.unmount_below(root)
    host.remove_network_namespaces()
    host.remove_cgroups()
    host.remove_bridge()
    _remove_files(root)
    processes = [f"{name} (pid {pid})" for name, pid in started.items() if _alive(pid)]
    processes += [f"containerd-shim (pid {pid})" for pid in _shims()]
    remaining = processes + host.leftovers(root) + ([f"directory {root}"] if root.exists() else [])
    if remaining:
        raise NodeError("node-down left: " + "; ".join(remaining))
    if not quiet:
        say("node stopped; no processes, mounts, bridge, iptables chains, cgroups or network namespaces left")
