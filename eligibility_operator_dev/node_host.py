"""The host-level state a one-node cluster leaves on the machine, and how to remove it.

Bridge, iptables chains and rules (both iptables back ends, IPv4 and IPv6: the kubelet and
kube-proxy create ``KUBE-*`` chains, the CNI plugins ``CNI-*`` ones), mounts, network namespaces,
cgroups and sysctls. :func:`leftovers` lists what is still there; ``node-down`` ends with it, and a
test checks it is empty."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
from pathlib import Path

BRIDGE = "eo0"
GATEWAY = "10.244.0.1"
POD_CIDR = "10.244.0.0/24"
SERVICE_CIDR = "10.0.0.0/24"
RULE_COMMENT = "eligibility-operator-node"
CHAIN_PREFIXES = ("KUBE-", "CNI-")
NETNS_DIR = Path("/run/netns")
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_NAMES = ("kubepods", "k8s.io")
SYSCTLS = (
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/route_localnet",
    "net/bridge/bridge-nf-call-iptables",
    "net/bridge/bridge-nf-call-ip6tables",
)


def run(*argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        if check:
            raise RuntimeError(f"{' '.join(argv)} did not finish within {timeout:.0f}s") from None
        return subprocess.CompletedProcess(list(argv), 124, "", f"timed out after {timeout:.0f}s")
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


SAVE = {
    "iptables-nft": "iptables-nft-save",
    "iptables-legacy": "iptables-legacy-save",
    "ip6tables-nft": "ip6tables-nft-save",
    "ip6tables-legacy": "ip6tables-legacy-save",
    "iptables": "iptables-save",
    "ip6tables": "ip6tables-save",
}


def iptables_tools() -> list[str]:
    """Every iptables front end present: rules may sit in the legacy and the nf_tables back end."""
    names = ("iptables-nft", "iptables-legacy", "ip6tables-nft", "ip6tables-legacy")
    found = [n for n in names if shutil.which(n)]
    return found or [n for n in ("iptables", "ip6tables") if shutil.which(n)]


# ------------------------------------------------------------------ bridge, firewall, sysctl


def bridge_exists() -> bool:
    return Path(f"/sys/class/net/{BRIDGE}").exists()


def create_bridge() -> None:
    """The bridge the CNI plugin attaches pods to; the host's address on it is the node's address."""
    if not bridge_exists():
        run("ip", "link", "add", BRIDGE, "type", "bridge")
    run("ip", "addr", "replace", f"{GATEWAY}/24", "dev", BRIDGE)
    run("ip", "link", "set", BRIDGE, "up")


def block_egress() -> None:
    """Pods reach each other, Services and the node, never anything beyond the bridge (the bridge plugin
    turns ip_forward on). Inserted first in FORWARD, tagged so that teardown finds it."""
    for tool in ("iptables",):
        present = run(tool, "-C", "FORWARD", *_egress_rule(), check=False)
        if present.returncode != 0:
            run(tool, "-I", "FORWARD", "1", *_egress_rule())


def _egress_rule() -> list[str]:
    return ["-i", BRIDGE, "!", "-o", BRIDGE, "-m", "comment", "--comment", RULE_COMMENT, "-j", "DROP"]


def read_sysctls() -> dict[str, str]:
    values = {}
    for name in SYSCTLS:
        with contextlib.suppress(OSError):
            values[name] = Path("/proc/sys", name).read_text().strip()
    return values


def restore_sysctls(saved: dict[str, str]) -> None:
    for name, value in saved.items():
        with contextlib.suppress(OSError):
            Path("/proc/sys", name).write_text(value + "\n")


# ------------------------------------------------------------------ removal


def _ours(line: str) -> bool:
    return RULE_COMMENT in line or any(f"-j {p}" in line or f"-g {p}" in line for p in CHAIN_PREFIXES)


def _chains(dump: str) -> dict[str, list[str]]:
    """``{table: [our chain names]}`` from an iptables-save dump."""
    tables: dict[str, list[str]] = {}
    table = ""
    for line in dump.splitlines():
        if line.startswith("*"):
            table = line[1:]
            tables[table] = []
        elif line.startswith(":") and line[1:].startswith(CHAIN_PREFIXES):
            tables[table].append(line[1:].split()[0])
    return {t: c for t, c in tables.items() if c}


def our_iptables(tool: str) -> list[str]:
    """Our chains and the rules that jump to them or carry our comment, as iptables-save lines."""
    save = SAVE[tool]
    if not shutil.which(save):
        return []
    dump = run(save, check=False).stdout
    found = []
    for line in dump.splitlines():
        if (line.startswith(":") and line[1:].startswith(CHAIN_PREFIXES)) or (line.startswith("-A") and _ours(line)):
            found.append(line)
    return found


def remove_iptables() -> None:
    """Delete the rules that lead to our chains (or carry our comment), then flush and delete the chains."""
    for tool in iptables_tools():
        save = SAVE[tool]
        if not shutil.which(save):
            continue
        dump = run(save, check=False).stdout
        table = ""
        for line in dump.splitlines():
            if line.startswith("*"):
                table = line[1:]
            elif line.startswith("-A ") and _ours(line):
                chain, *spec = shlex.split(line[3:])
                if not chain.startswith(CHAIN_PREFIXES):
                    run(tool, "-t", table, "-D", chain, *spec, check=False)
        for table, chains in _chains(dump).items():
            for chain in chains:
                run(tool, "-t", table, "-F", chain, check=False)
            for chain in chains:
                run(tool, "-t", table, "-X", chain, check=False)


def mounts_below(*roots: Path) -> list[str]:
    with open("/proc/self/mounts") as handle:
        points = [line.split()[1].replace("\\040", " ") for line in handle]
    prefixes = [f"{root}/" for root in roots]
    return sorted((p for p in points if any(p.startswith(prefix) for prefix in prefixes)), reverse=True)


def unmount_below(*roots: Path) -> None:
    for point in mounts_below(*roots):
        run("umount", "-l", point, check=False)


def network_namespaces() -> list[Path]:
    """The CNI network namespaces containerd made for pod sandboxes (no other CRI runtime runs here)."""
    return sorted(NETNS_DIR.glob("cni-*")) if NETNS_DIR.is_dir() else []


def remove_network_namespaces() -> None:
    for netns in network_namespaces():
        run("umount", "-l", str(netns), check=False)
        with contextlib.suppress(OSError):
            netns.unlink()


def cgroups() -> list[Path]:
    """Our cgroup trees in every hierarchy (cgroup v1 mounts each controller on its own, v2 has one)."""
    found = []
    for name in CGROUP_NAMES:
        found += [p for p in CGROUP_ROOT.glob(f"*/{name}") if p.is_dir()]
        if (CGROUP_ROOT / name).is_dir() and (CGROUP_ROOT / "cgroup.controllers").exists():
            found.append(CGROUP_ROOT / name)
    return sorted(found)


def remove_cgroups() -> None:
    """rmdir depth first (a cgroup directory cannot be removed with children, and only once it is empty)."""
    for top in cgroups():
        for directory, _dirs, _files in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
            with contextlib.suppress(OSError):
                os.rmdir(directory)


def remove_bridge() -> None:
    if bridge_exists():
        run("ip", "link", "del", BRIDGE, check=False)


def leftovers(*roots: Path) -> list[str]:
    """What a node left on this machine: empty after ``node-down``."""
    found = []
    if bridge_exists():
        found.append(f"network interface {BRIDGE}")
    for tool in iptables_tools():
        lines = our_iptables(tool)
        if lines:
            found.append(f"{tool}: {len(lines)} chains/rules, e.g. {lines[0]}")
    found += [f"mount {p}" for p in mounts_below(*roots)]
    found += [f"network namespace {p}" for p in network_namespaces()]
    found += [f"cgroup {p}" for p in cgroups()]
    return found
