"""Building and running the project's image without a Docker engine: buildah, and a Debian base made
with debootstrap once and cached (like the control plane) under ``<cache>/image``.

The base stands in for ``python:3.11-slim-bookworm``, which cannot be pulled here: Debian bookworm's
own Python 3.11 (minbase, without documentation and locales, as the slim image) plus this machine's CA
bundle, because package downloads inside the build pass a TLS-intercepting proxy. Everything else is
the production ``Dockerfile`` as it is.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from eligibility_operator_dev.controlplane import cache_dir

REPO = Path(__file__).resolve().parent.parent
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# Bump when the recipe below changes: the cached base is keyed by it (and by the CA bundle).
BASE_RECIPE = "bookworm-minbase-python3-v1"
BASE_PACKAGES = "python3,python3-venv,ca-certificates"
SUITE = "bookworm"
# What the slim image leaves out too.
TRIM = (
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
)


def image_dir() -> Path:
    return cache_dir() / "image"


def debian_mirror() -> str:
    """The Debian mirror apt uses here (deb822 or one-line sources), else deb.debian.org."""
    if env := os.environ.get("EO_DEBIAN_MIRROR"):
        return env
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))]
    for path in sources:
        with contextlib.suppress(OSError):
            for match in re.finditer(r"(?:URIs:|^deb)\s+(\S+/debian)/?\s", path.read_text(), re.MULTILINE):
                return match[1]
    return "http://deb.debian.org/debian"


def why_not_available() -> str | None:
    """None when images can be built and run here, else the reason (for the skip message)."""
    if os.geteuid() != 0:
        return "building the image needs root here (buildah with chroot isolation, debootstrap); run make test as root"
    for tool, package in (("buildah", "buildah"), ("debootstrap", "debootstrap")):
        if not shutil.which(tool):
            return f"{tool} is not installed: `make system-deps` (as root) installs the Debian package {package}"
    if not HOST_CA_BUNDLE.is_file():
        return f"no CA bundle at {HOST_CA_BUNDLE} (Debian package ca-certificates)"
    return None


def _overlay_works() -> bool:
    """Kernel overlayfs is much faster than vfs (which copies every layer in full) where root may mount it."""
    with tempfile.TemporaryDirectory() as tmp:
        dirs = [Path(tmp, d) for d in ("lower", "upper", "work", "merged")]
        for d in dirs:
            d.mkdir()
        options = f"lowerdir={dirs[0]},upperdir={dirs[1]},workdir={dirs[2]}"
        mounted = subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", options, str(dirs[3])], capture_output=True, check=False
        )
        if mounted.returncode != 0:
            return False
        subprocess.run(["umount", str(dirs[3])], capture_output=True, check=False)
        return True


@dataclass
class Buildah:
    """buildah with a storage of its own under the cache (so that the cached base survives and nothing
    mixes with the user's own images), chroot isolation and host networking, as works here."""

    driver: str
    root: Path
    runroot: Path

    @classmethod
    def for_tests(cls) -> Buildah:
        driver = "overlay" if _overlay_works() else "vfs"
        base = image_dir()
        return cls(
            driver, base / f"storage-{driver}", Path(tempfile.gettempdir()) / f"eligibility-operator-buildah-{driver}"
        )

    def argv(self, *args: str) -> list[str]:
        return [
            "buildah",
            "--root",
            str(self.root),
            "--runroot",
            str(self.runroot),
            "--storage-driver",
            self.driver,
            *args,
        ]

    def __call__(self, *args: str, timeout: float = 600, check: bool = True) -> str:
        result = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"buildah {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
        return result.stdout

    def exists(self, image: str) -> bool:
        found = subprocess.run(self.argv("inspect", "--type", "image", image), capture_output=True, check=False)
        return found.returncode == 0

    def inspect(self, image: str) -> dict[str, object]:
        data: dict[str, object] = json.loads(self("inspect", "--type", "image", image))
        return data

    def layer_sizes(self, image: str) -> list[int]:
        """Uncompressed size of each layer, bottom first (local storage keeps layers uncompressed)."""
        manifest = json.loads(str(self.inspect(image)["Manifest"]))
        return [int(layer["size"]) for layer in manifest["layers"]]


@dataclass
class Timings:
    base_seconds: float | None = None  # None: the base came from the cache
    build_seconds: float = 0.0


def base_tag() -> str:
    key = hashlib.sha256(f"{BASE_RECIPE}|{BASE_PACKAGES}|{debian_mirror()}|".encode() + HOST_CA_BUNDLE.read_bytes())
    return f"localhost/eligibility-operator-base:{SUITE}-{key.hexdigest()[:12]}"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder at a time across test sessions; the others wait and then find the result."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _unmount_below(root: Path) -> None:
    """debootstrap mounts /proc and /sys in the target; a failed run can leave them mounted."""
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    for point in sorted((p for p in points if p.startswith(f"{root}/")), reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def ensure_base(buildah: Buildah) -> tuple[str, float | None]:
    """The cached base image's tag, and the seconds it took to make it (None if it was cached)."""
    tag = base_tag()
    with _locked(image_dir() / "base.lock"):
        if buildah.exists(tag):
            return tag, None
        started = time.monotonic()
        rootfs = image_dir() / "rootfs.tmp"
        _unmount_below(rootfs)
        shutil.rmtree(rootfs, ignore_errors=True)
        try:
            result = subprocess.run(
                ["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", SUITE, str(rootfs), debian_mirror()],
                capture_output=True,
                text=True,
                timeout=1800,
                check=False,
            )
            if result.returncode != 0:
                log = (
                    (rootfs / "debootstrap" / "debootstrap.log").read_text(errors="replace")[-3000:]
                    if (rootfs / "debootstrap" / "debootstrap.log").exists()
                    else ""
                )
                raise AssertionError(f"debootstrap failed ({result.returncode}):\n{result.stderr[-3000:]}\n{log}")
            _unmount_below(rootfs)
            for part in TRIM:
                for child in (rootfs / part).glob("*"):
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
            shutil.copyfile(HOST_CA_BUNDLE, rootfs / "etc/ssl/certs/ca-certificates.crt")
            container = buildah("from", "scratch").strip()
            try:
                buildah("copy", container, f"{rootfs}/", "/")
                buildah("config", "--env", "LANG=C.UTF-8", "--cmd", "python3", container)
                buildah("commit", container, tag)
            finally:
                buildah("rm", container, check=False)
        finally:
            _unmount_below(rootfs)
            shutil.rmtree(rootfs, ignore_errors=True)
        return tag, time.monotonic() - started


def build_image(buildah: Buildah, base: str, tag: str) -> float:
    """Build the repository's Dockerfile on ``base``; seconds taken. Layers are cached between sessions."""
    started = time.monotonic()
    buildah(
        "bud",
        "--isolation",
        "chroot",
        "--network",
        "host",
        "--pull-never",
        "--layers",
        "--build-arg",
        f"BASE_IMAGE={base}",
        "--build-arg",
        f"PIP_CERT={HOST_CA_BUNDLE}",
        "--tag",
        tag,
        str(REPO),
        timeout=1800,
    )
    return time.monotonic() - started


FileState = tuple[int, int, int, int, int]


def snapshot(root: Path, skip: tuple[str, ...] = ()) -> dict[str, FileState]:
    """Every path under ``root`` (relative, no symlinks followed) with mode, owner, size and mtime."""
    state: dict[str, FileState] = {}
    for directory, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        dirs[:] = [d for d in dirs if os.path.normpath(os.path.join(rel_dir, d)) not in skip]
        for name in [*dirs, *files]:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            state[os.path.normpath(os.path.join(rel_dir, name))] = (
                st.st_mode,
                st.st_uid,
                st.st_gid,
                st.st_size,
                st.st_mtime_ns,
            )
        st = os.lstat(directory)
        state[rel_dir] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns)
    return state


def _state(path: str) -> FileState:
    st = os.lstat(path)
    return (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns)


def changes(before: dict[str, FileState], after: dict[str, FileState]) -> dict[str, str]:
    """{path: created | deleted | modified} between two snapshots."""
    out = {p: "created" for p in after.keys() - before.keys()}
    out |= {p: "deleted" for p in before.keys() - after.keys()}
    out |= {p: "modified" for p in before.keys() & after.keys() if before[p] != after[p]}
    return out
