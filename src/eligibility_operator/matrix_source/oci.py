"""Fetch a matrix artifact from an OCI registry (``oci://host[:port]/repository:tag`` or ``@sha256:...``)
with the ``oras`` client: its registry authentication (the Docker config file that ``$DOCKER_CONFIG``
points at, e.g. a mounted ``kubernetes.io/dockerconfigjson`` Secret), container references and API paths.

The artifact is one manifest with the document as a layer of :data:`MATRIX_MEDIA_TYPE` and, when signed,
the signature file as a layer of :data:`SIGNATURE_MEDIA_TYPE` (what ``oras push`` writes for
``matrix.yaml:<type> matrix.yaml.sig:<type>``). Manifest and blobs are read with the size cap, and each
blob is checked against the digest the manifest names.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import oras.defaults
import oras.provider
import requests
import requests.adapters
import urllib3
import urllib3.connection

from .deadline import Deadline
from .errors import Reason, SourceError
from .https import read_capped

MATRIX_MEDIA_TYPE = "application/vnd.stakater.compatibility-matrix.v1+yaml"
SIGNATURE_MEDIA_TYPE = "application/vnd.stakater.compatibility-matrix.signature.v1+base64"
ARTIFACT_TYPE = "application/vnd.stakater.compatibility-matrix.v1"
MAX_MANIFEST_BYTES = 64 * 1024
_MANIFEST_TYPES = (oras.defaults.default_manifest_media_type, oras.defaults.docker_manifest_media_type)


def _tracked_pool(pool: type[Any], connection: type[Any], deadline: Deadline) -> type[Any]:
    """``pool`` whose connections' sockets are shut down when ``deadline`` passes."""

    class Tracked(connection):  # type: ignore[misc]
        def _new_conn(self) -> Any:
            sock = super()._new_conn()
            deadline.track(sock)
            return sock

    return type(f"Tracked{pool.__name__}", (pool,), {"ConnectionCls": Tracked})


class _DeadlineAdapter(requests.adapters.HTTPAdapter):
    """Every request of the session gets the time left as its (connect, read) timeout (requests has none by
    default), and every socket it opens is shut down at the deadline."""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _tracked_pool(urllib3.HTTPConnectionPool, urllib3.connection.HTTPConnection, self.deadline),
            "https": _tracked_pool(urllib3.HTTPSConnectionPool, urllib3.connection.HTTPSConnection, self.deadline),
        }

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        left = self.deadline.remaining()
        return super().send(request, stream, (left, left), verify, cert, proxies)


class _Registry(oras.provider.Registry):  # type: ignore[misc]
    """oras' Registry without its retry decorator (five attempts with sleeps up to 83 s: the refresher
    has its own schedule) and under the fetch's deadline."""

    def __init__(self, hostname: str, tls_verify: bool | str, deadline: Deadline) -> None:
        super().__init__(hostname=hostname, insecure=False, tls_verify=tls_verify)
        adapter = _DeadlineAdapter(deadline)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def do_request(self, *args: Any, **kwargs: Any) -> Any:
        return oras.provider.Registry.do_request.__wrapped__(self, *args, **kwargs)


@contextmanager
def _ca_file(ca_bundle: str | None) -> Iterator[bool | str]:
    """requests wants a CA bundle as a file."""
    if not ca_bundle:
        yield True
        return
    with tempfile.NamedTemporaryFile("w", suffix=".pem", prefix="eo-ca-", delete=False) as handle:
        handle.write(ca_bundle)
    try:
        yield handle.name
    finally:
        os.unlink(handle.name)


def split_reference(url: str) -> tuple[str, str]:
    """(registry host, full reference without the scheme) of ``oci://host/repo:tag``."""
    ref = url[len("oci://") :] if url.lower().startswith("oci://") else url
    host, slash, rest = ref.partition("/")
    if not slash or not rest or not host:
        raise SourceError(Reason.SOURCE_UNREACHABLE, f"{url}: expected oci://host[:port]/repository[:tag|@digest]")
    return host, ref


def _get(registry: _Registry, url: str, cap: int, deadline: Deadline, what: str, accept: str | None = None) -> bytes:
    headers = {"Accept": accept} if accept else {}
    response = registry.do_request(url, "GET", headers=headers, stream=True)
    try:
        if response.status_code != 200:
            raise SourceError(Reason.SOURCE_UNREACHABLE, f"{what}: HTTP {response.status_code} {response.reason}")
        length = response.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > cap:
            raise SourceError(Reason.TOO_LARGE, f"{what} is {length} bytes, larger than the cap of {cap}")
        return read_capped(response.raw, cap, deadline, what)
    finally:
        response.close()


def _layer(manifest: dict[str, Any], media_type: str) -> dict[str, Any] | None:
    layers = [layer for layer in manifest.get("layers") or [] if layer.get("mediaType") == media_type]
    if len(layers) > 1:
        raise SourceError(Reason.INVALID, f"the artifact has {len(layers)} layers of type {media_type}, expected one")
    return layers[0] if layers else None


def _blob(registry: _Registry, container: Any, layer: dict[str, Any], cap: int, deadline: Deadline) -> bytes:
    digest = str(layer.get("digest") or "")
    size = layer.get("size")
    if isinstance(size, int) and size > cap:
        raise SourceError(Reason.TOO_LARGE, f"layer {digest} is {size} bytes, larger than the cap of {cap}")
    url = f"{registry.prefix}://{container.get_blob_url(digest)}"
    data = _get(registry, url, cap, deadline, f"blob {digest}")
    actual = "sha256:" + hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise SourceError(Reason.SIGNATURE_INVALID, f"blob {digest} arrived with digest {actual}")
    return data


def get(
    url: str, *, ca_bundle: str | None, cap: int, deadline: Deadline, signature_cap: int
) -> tuple[bytes, bytes | None]:
    """(document, signature file or None) of the artifact at ``url``. Every failure is a SourceError."""
    host, ref = split_reference(url)
    with _ca_file(ca_bundle) as verify:
        registry = _Registry(host, verify, deadline)
        try:
            container = registry.get_container(ref)
            registry.auth.load_configs(container)
            manifest_url = f"{registry.prefix}://{container.manifest_url()}"
            raw = _get(
                registry, manifest_url, MAX_MANIFEST_BYTES, deadline, f"manifest {ref}", ", ".join(_MANIFEST_TYPES)
            )
            try:
                manifest = json.loads(raw)
            except ValueError:
                raise SourceError(Reason.INVALID, f"manifest {ref} is not JSON") from None
            if not isinstance(manifest, dict) or manifest.get("mediaType", _MANIFEST_TYPES[0]) not in _MANIFEST_TYPES:
                raise SourceError(Reason.INVALID, f"{ref} is not an image manifest (an index?)")
            layer = _layer(manifest, MATRIX_MEDIA_TYPE)
            if layer is None:
                raise SourceError(Reason.INVALID, f"{ref} has no layer of type {MATRIX_MEDIA_TYPE}")
            document = _blob(registry, container, layer, cap, deadline)
            sig_layer = _layer(manifest, SIGNATURE_MEDIA_TYPE)
            signature = _blob(registry, container, sig_layer, signature_cap, deadline) if sig_layer else None
        except SourceError:
            raise
        except requests.exceptions.SSLError as exc:
            raise deadline.or_error(f"{url}: TLS failure: {exc}") from None
        except requests.exceptions.RequestException as exc:
            raise deadline.or_error(f"{url}: unreachable: {exc}") from None
        except Exception as exc:  # oras raises ValueError and friends for auth trouble and bad references
            raise deadline.or_error(f"{url}: {type(exc).__name__}: {exc}") from None
        finally:
            registry.session.close()
    return document, signature
