"""The webhook's serving certificate with no add-on (``--webhook-cert-mode=self``), as Gatekeeper's
cert-controller and Kyverno do it.

A CA and a serving certificate live in one Secret in the operator's namespace (``ca.crt``, ``ca.key``,
``tls.crt``, ``tls.key`` and ``ca-bundle.crt``, the CAs the API server must trust). Only the leader writes:
it creates the Secret, renews the serving certificate before it expires (same CA: nothing else changes),
renews the CA before it expires (the bundle then holds the new and the old CA, so that a replica still
serving a certificate of the old CA stays trusted until it reloads), and keeps the ``caBundle`` of the
operator's own ValidatingWebhookConfiguration equal to the bundle. Every replica reads the Secret and
serves its current certificate, reloading when it changes: both replicas agree because both serve what the
Secret holds. Writes use the Secret's resourceVersion: a conflict is read again, never overwritten.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import logging
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from ..kube.api import describe_error
from ..kube.errors import ApiHttpError
from ..leadership import Leadership

log = logging.getLogger("eligibility_operator")
SECRET_TYPE = "kubernetes.io/tls"
CA_DAYS = 3 * 365  # the CA's lifetime; renewed when less than CA_RENEW_DAYS remain
CA_RENEW_DAYS = 180
CERT_DAYS = 90  # the serving certificate's lifetime; renewed when less than CERT_RENEW_DAYS remain
CERT_RENEW_DAYS = 30
VWC_PATH = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"


class RawApi(Protocol):
    """One API request, its JSON answer (``KubeClient.request``, over the operator's one session); raises
    :class:`~..kube.errors.ApiHttpError` on an HTTP error status."""

    def request(self, method: str, path: str, *, body: Any = None) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Bundle:
    """What the Secret holds (PEM)."""

    ca_cert: bytes
    ca_key: bytes
    cert: bytes
    key: bytes
    trusted: bytes  # the CAs the API server trusts: the current one, and the previous while it is valid

    def data(self) -> dict[str, str]:
        raw = {"ca.crt": self.ca_cert, "ca.key": self.ca_key, "tls.crt": self.cert, "tls.key": self.key}
        raw["ca-bundle.crt"] = self.trusted
        return {k: base64.b64encode(v).decode() for k, v in raw.items()}

    @classmethod
    def from_data(cls, data: dict[str, str]) -> Bundle | None:
        """The bundle in a Secret's data; None when a key is missing or not base64."""
        try:
            raw = {k: base64.b64decode(data[k], validate=True) for k in ("ca.crt", "ca.key", "tls.crt", "tls.key")}
            trusted = base64.b64decode(data.get("ca-bundle.crt") or data["ca.crt"], validate=True)
        except (KeyError, ValueError, TypeError):
            return None
        return cls(raw["ca.crt"], raw["ca.key"], raw["tls.crt"], raw["tls.key"], trusted)


def service_hosts(service: str, namespace: str) -> list[str]:
    """The names the API server may use to reach a Service."""
    return [f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local", f"{service}.{namespace}", service]


def subject_alt_names(hosts: list[str]) -> Any:
    """The x509 SubjectAlternativeName for ``hosts``: IP addresses as such, anything else as a DNS name."""
    from cryptography import x509

    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _new_ca(now: dt.datetime) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"eligibility-operator webhook CA {now:%Y%m%d%H%M%S}")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


def _new_leaf(ca_cert: bytes, ca_key: bytes, hosts: list[str], now: dt.datetime) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca = x509.load_pem_x509_certificate(ca_cert)
    signer = serialization.load_pem_private_key(ca_key, password=None)
    if not isinstance(signer, ec.EllipticCurvePrivateKey):
        raise ValueError("the webhook CA's key is not an EC key")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=CERT_DAYS), ca.not_valid_after_utc))
        .add_extension(subject_alt_names(hosts), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(signer, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


def _not_after(pem: bytes) -> dt.datetime:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem).not_valid_after_utc


def _sans(pem: bytes) -> set[str]:
    from cryptography import x509

    try:
        ext = x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return set()
    return {str(v) for v in ext.value.get_values_for_type(x509.DNSName)} | {
        str(v) for v in ext.value.get_values_for_type(x509.IPAddress)
    }


def renewed(current: Bundle | None, hosts: list[str], now: dt.datetime) -> tuple[Bundle, str] | None:
    """The bundle to write and why, or None when ``current`` is good for a while yet.

    A damaged bundle (unparseable PEM) is replaced whole."""
    try:
        if current is not None:
            ca_left = _not_after(current.ca_cert) - now
            cert_left = _not_after(current.cert) - now
            if ca_left < dt.timedelta(days=CA_RENEW_DAYS):
                ca_cert, ca_key = _new_ca(now)
                cert, key = _new_leaf(ca_cert, ca_key, hosts, now)
                trusted = ca_cert + (current.ca_cert if ca_left > dt.timedelta(0) else b"")
                return Bundle(ca_cert, ca_key, cert, key, trusted), "CA renewed before expiry"
            if cert_left < dt.timedelta(days=CERT_RENEW_DAYS) or not set(hosts) <= _sans(current.cert):
                cert, key = _new_leaf(current.ca_cert, current.ca_key, hosts, now)
                why = "serving certificate renewed" + (
                    " before expiry" if cert_left < dt.timedelta(days=CERT_RENEW_DAYS) else " for new host names"
                )
                return Bundle(current.ca_cert, current.ca_key, cert, key, current.trusted), why
            return None
    except ValueError as exc:
        log.warning("webhook certificate Secret is damaged (%s): issuing a new CA", exc)
    ca_cert, ca_key = _new_ca(now)
    cert, key = _new_leaf(ca_cert, ca_key, hosts, now)
    return Bundle(ca_cert, ca_key, cert, key, ca_cert), "CA and serving certificate issued"


class SecretCerts:
    """Keeps the Secret current (leader) and the TLS context serving its certificate (every replica)."""

    def __init__(
        self,
        api: RawApi,
        leadership: Leadership,
        namespace: str,
        secret: str,
        hosts: list[str],
        configuration: str | None,
        *,
        every: float = 30.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        on_error: Callable[[str], None] = lambda operation: None,
    ) -> None:
        self.api, self.leadership, self.namespace, self.secret = api, leadership, namespace, secret
        self.hosts, self.configuration, self.every, self.clock = hosts, configuration, every, clock
        self.on_error = on_error
        self.directory = Path(tempfile.mkdtemp(prefix="eo-webhook-"))
        self.certfile, self.keyfile = self.directory / "tls.crt", self.directory / "tls.key"
        self.serving: bytes | None = None  # the certificate this replica serves
        self.trusted = b""  # the CAs of the bundle this replica serves

    @property
    def _path(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}/secrets/{self.secret}"

    def read(self) -> tuple[Bundle | None, dict[str, Any] | None]:
        """The Secret's bundle and the Secret (None, None when there is none)."""
        try:
            secret = self.api.request("GET", self._path)
        except ApiHttpError as exc:
            if exc.status == 404:
                return None, None
            raise
        return Bundle.from_data(secret.get("data") or {}), secret

    def write(self, bundle: Bundle, secret: dict[str, Any] | None) -> None:
        """Create the Secret, or replace its data at the resourceVersion read (409: someone else wrote)."""
        meta: dict[str, Any] = {
            "name": self.secret,
            "namespace": self.namespace,
            "labels": {"app.kubernetes.io/name": "eligibility-operator"},
        }
        if secret is None:
            body = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": SECRET_TYPE, "data": bundle.data()}
            self.api.request("POST", f"/api/v1/namespaces/{self.namespace}/secrets", body=body)
            return
        secret = dict(secret)
        secret["data"] = {**(secret.get("data") or {}), **bundle.data()}
        self.api.request("PUT", self._path, body=secret)

    def inject(self, trusted: bytes) -> bool:
        """Set every webhook's caBundle in the configuration to ``trusted``; True when it was changed."""
        if not self.configuration:
            return False
        path = f"{VWC_PATH}/{self.configuration}"
        current = self.api.request("GET", path)
        wanted = base64.b64encode(trusted).decode()
        hooks = current.get("webhooks") or []
        if all((h.get("clientConfig") or {}).get("caBundle") == wanted for h in hooks):
            return False
        for hook in hooks:
            hook.setdefault("clientConfig", {})["caBundle"] = wanted
        self.api.request("PUT", path, body=current)
        return True

    def step(self) -> Bundle | None:
        """One round: renew (leader), inject (leader), and return the bundle this replica should serve."""
        bundle, secret = self.read()
        if self.leadership.may_write():
            change = renewed(bundle, self.hosts, self.clock())
            if change is not None:
                fresh, why = change
                try:
                    self.write(fresh, secret)
                except ApiHttpError as exc:
                    if exc.status != 409:
                        raise
                    log.info("webhook certificate Secret changed meanwhile; reading it again")
                    bundle, secret = self.read()
                else:
                    log.info("webhook certificate Secret %s/%s: %s", self.namespace, self.secret, why)
                    bundle = fresh
            if bundle is not None:  # every round: a configuration re-applied without caBundle is mended
                self._inject(bundle.trusted)
        return bundle

    def _inject(self, trusted: bytes) -> None:
        """Inject, or say why not; serving goes on either way (the next round tries again)."""
        try:
            if self.inject(trusted):
                log.info("ValidatingWebhookConfiguration %s: caBundle set from the Secret", self.configuration)
        except ApiHttpError as exc:
            self.on_error("webhook_configuration")
            missing = " (not found: is it installed, under that name?)" if exc.status == 404 else ""
            log.warning(
                "could not set the caBundle of ValidatingWebhookConfiguration %s%s: %s",
                self.configuration,
                missing,
                describe_error(exc),
            )
            return

    def load(self, bundle: Bundle, context: ssl.SSLContext | None = None) -> bool:
        """Write the bundle's certificate for this replica and load it; True when it changed."""
        if bundle.cert == self.serving:
            return False
        self.keyfile.touch(mode=0o600)
        self.keyfile.write_bytes(bundle.key)
        self.certfile.write_bytes(bundle.cert)
        if context is not None:
            context.load_cert_chain(self.certfile, self.keyfile)
        self.serving, self.trusted = bundle.cert, bundle.trusted
        return True

    async def first(self, retry: float = 2.0) -> None:
        """Wait until the Secret holds a certificate (the leader writes it) and write it for serving."""
        while True:
            try:
                bundle = await asyncio.to_thread(self.step)
                if bundle is not None:
                    self.load(bundle)
                    return
            except Exception as exc:
                self.on_error("webhook_certificate")
                log.warning("webhook certificate Secret not ready yet: %s", describe_error(exc))
            await asyncio.sleep(retry)

    async def keep_current(self, context: ssl.SSLContext) -> None:
        """Forever: renew and inject (leader), and serve the Secret's current certificate (every replica)."""
        while True:
            await asyncio.sleep(self.every)
            try:
                bundle = await asyncio.to_thread(self.step)
                if bundle is not None and self.load(bundle, context):
                    log.info("admission webhook: serving the Secret's renewed certificate")
            except (ApiHttpError, aiohttp.ClientError, OSError, ssl.SSLError, ValueError) as exc:
                self.on_error("webhook_certificate")
                log.warning("webhook certificate: %s (retrying)", describe_error(exc))
