"""Real servers for the matrix source tests, on 127.0.0.1: an HTTPS file server (stdlib, a CA made with
``cryptography``) and an OCI registry (Debian's ``docker-registry``, with TLS from the same CA)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from eligibility_operator.matrix_source.oci import MATRIX_MEDIA_TYPE, SIGNATURE_MEDIA_TYPE
from eligibility_operator.runtime.serving.webhook import ServingCert, self_signed
from eligibility_operator_dev.controlplane import die_with_parent, free_port

REGISTRY = shutil.which("docker-registry")


@dataclass
class FileServer:
    """Serves ``files`` (path -> bytes) over HTTPS; anything else is a 404. ``hits`` counts requests.
    ``fault``: ``stall`` holds every request unanswered (at most a minute) until it is cleared, ``cut``
    closes each connection without an answer."""

    cert: ServingCert
    fault: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    port: int = 0

    @property
    def ca_pem(self) -> str:
        return self.cert.ca_pem.decode()

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"


def _handler(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.hits[self.path] = server.hits.get(self.path, 0) + 1
            held = time.monotonic() + 60
            while server.fault == "stall" and time.monotonic() < held:
                time.sleep(0.1)
            if server.fault is not None:
                self.close_connection = True
                return  # no answer: the client sees the connection end
            body = server.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/yaml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # refused handshakes (the TLS failure tests) are expected


@contextlib.contextmanager
def https_server(cert: ServingCert) -> Iterator[FileServer]:
    state = FileServer(cert)
    httpd = _QuietServer(("127.0.0.1", 0), _handler(state))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert.certfile), str(cert.keyfile))
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@dataclass
class Registry:
    host: str
    ca_pem: str
    ca_file: Path
    proc: subprocess.Popen[bytes]

    def ref(self, repository: str) -> str:
        return f"oci://{self.host}/{repository}"

    def push(self, repository: str, document: bytes, signature: bytes | None = None) -> str:
        """Push the artifact as ``oras push`` would (document + optional signature layer); its oci:// URL."""
        import oras.provider

        with tempfile.TemporaryDirectory() as tmp:
            files = []
            path = Path(tmp) / "matrix.yaml"
            path.write_bytes(document)
            files.append(f"{path}:{MATRIX_MEDIA_TYPE}")
            if signature is not None:
                sig = Path(tmp) / "matrix.yaml.sig"
                sig.write_bytes(signature)
                files.append(f"{sig}:{SIGNATURE_MEDIA_TYPE}")
            client = oras.provider.Registry(hostname=self.host, tls_verify=str(self.ca_file))
            client.push(f"{self.host}/{repository}", files=files, disable_path_validation=True, quiet=True)
        return self.ref(repository)


@contextlib.contextmanager
def oci_registry(cert: ServingCert, workdir: Path) -> Iterator[Registry]:
    assert REGISTRY, "docker-registry not installed (make system-deps)"
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(workdir / "storage")}, "delete": {"enabled": True}},
        "http": {
            "addr": f"127.0.0.1:{port}",
            "tls": {"certificate": str(cert.certfile), "key": str(cert.keyfile)},
        },
    }
    config_file = workdir / "registry.yml"
    config_file.write_text(yaml.safe_dump(config))
    ca_file = workdir / "ca.pem"
    ca_file.write_bytes(cert.ca_pem)
    log = open(workdir / "registry.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [REGISTRY, "serve", str(config_file)], stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
    )
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/v2/", context=context, timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((workdir / "registry.log").read_text()) from None
                time.sleep(0.1)
        yield Registry(f"127.0.0.1:{port}", cert.ca_pem.decode(), ca_file, proc)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def serving_cert(directory: Path) -> ServingCert:
    directory.mkdir(parents=True, exist_ok=True)
    return self_signed(directory, ["127.0.0.1"])


# ------------------------------------------------------------------ sources that misbehave on purpose


@dataclass
class Misbehaving:
    """An HTTPS server (raw sockets, TLS from the test CA) whose paths misbehave by name, every step paced
    by ``pace`` seconds and every connection ended by ``stop`` or after ``limit`` seconds:

    ``slowdoc`` a 7-byte body at one byte per ``pace``; ``trickle`` one body byte per ``pace``; ``stall``
    headers, then nothing; ``slowheaders`` one header byte per ``pace``; ``huge`` declares 10**15 bytes;
    ``loop`` redirects to itself; ``hop`` redirects to a new hop after ``pace``; anything else is a 404
    (so a document's ``.sig`` is absent)."""

    ca_pem: str
    port: int = 0
    pace: float = 0.3
    limit: float = 120.0
    stop: threading.Event = field(default_factory=threading.Event)
    requests: list[str] = field(default_factory=list)

    def url(self, path: str, scheme: str = "https") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"


def _ok(length: int) -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Type: application/yaml\r\nContent-Length: {length}\r\n\r\n".encode()


def _misbehaviour(path: str, hop: int) -> tuple[bool, bytes, bytes, bool]:
    """(wait one pace first, sent at once, sent one byte per pace, then hold the connection) for ``path``."""
    if "slowdoc" in path:  # a whole small body: each file alone beats the deadline, document and .sig do not
        return False, _ok(7), b"# slow\n", False
    if "trickle" in path:
        return False, _ok(60000), b"#" * 60000, False
    if "slowheaders" in path:
        return False, b"", b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100000, False
    if "stall" in path or "huge" in path:
        return False, _ok(10**15 if "huge" in path else 1000), b"", True
    if "loop" in path or "hop" in path:
        target = path if "loop" in path else f"/hop/{hop}"
        return (
            "hop" in path,
            f"HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n".encode(),
            b"",
            False,
        )
    return False, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", b"", False


def _serve_misbehaving(server: Misbehaving, conn: ssl.SSLSocket) -> None:
    started = time.monotonic()

    def wait() -> bool:
        return not server.stop.wait(server.pace) and time.monotonic() - started < server.limit

    with contextlib.suppress(OSError), conn:
        conn.settimeout(server.limit)
        request = b""
        while b"\r\n\r\n" not in request and len(request) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                return
            request += chunk
        path = request.split(b" ", 2)[1].decode()
        server.requests.append(path)
        delay, head, paced, hold = _misbehaviour(path, len(server.requests))
        if delay and not wait():
            return
        conn.sendall(head)
        for byte in paced:
            if not wait():
                return
            conn.sendall(bytes([byte]))
        while hold and wait():
            pass


@contextlib.contextmanager
def misbehaving_server(cert: ServingCert, pace: float = 0.3) -> Iterator[Misbehaving]:
    """Serve :class:`Misbehaving` paths on 127.0.0.1 until the block ends (then every connection ends)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert.certfile), str(cert.keyfile))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    state = Misbehaving(cert.ca_pem.decode(), listener.getsockname()[1], pace)

    def accept() -> None:
        while not state.stop.is_set():
            try:
                raw, _ = listener.accept()
            except OSError:
                continue

            def handle(raw: socket.socket = raw) -> None:
                try:
                    raw.settimeout(10)
                    conn = context.wrap_socket(raw, server_side=True)
                except OSError:
                    raw.close()
                    return
                _serve_misbehaving(state, conn)

            threading.Thread(target=handle, daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stop.set()
        thread.join(5)
        listener.close()


@contextlib.contextmanager
def unaccepted_port(full: bool) -> Iterator[int]:
    """A port on 127.0.0.1 that listens but never accepts. ``full``: its backlog is filled first, so a new
    connection is never even established (the kernel drops its SYNs); else TCP connects and nothing answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0 if full else 16)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        if full:
            for _ in range(4):
                filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                filler.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    filler.connect(("127.0.0.1", port))
                fillers.append(filler)
            time.sleep(0.2)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
