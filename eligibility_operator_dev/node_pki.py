"""Certificates, tokens and kubeconfigs for the one-node cluster (``make node-up``).

One CA signs the API server's serving certificate and its client certificate towards the kubelet;
the components authenticate with bearer tokens from ``--token-auth-file`` (the built-in RBAC
bindings and the Node authorizer know their user names)."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from eligibility_operator.runtime.serving.certs import subject_alt_names

# user name, groups: one bearer token each (the file name of its kubeconfig is the key).
IDENTITIES = {
    "admin": ("admin", "system:masters"),
    "node": ("system:node:{node}", "system:nodes"),
    "scheduler": ("system:kube-scheduler", ""),
    "controller-manager": ("system:kube-controller-manager", ""),
    "proxy": ("system:kube-proxy", ""),
}


@dataclass(frozen=True)
class Pki:
    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    def path(self, name: str) -> Path:
        return self.directory / name

    def kubeconfig(self, who: str) -> Path:
        return self.directory / f"{who}.kubeconfig"


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    usage: list[x509.ObjectIdentifier] | None = None,
    names: list[str] | None = None,
    organization: str | None = None,
) -> x509.Certificate:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, subject)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    name = x509.Name(attributes)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
    if names:
        builder = builder.add_extension(subject_alt_names(list(names)), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_ca(directory: Path, common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed CA written as ``ca.crt`` / ``ca.key`` in ``directory``."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(common_name, key, None, ca=True)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.crt").write_bytes(_pem(cert))
    _write_key(directory / "ca.key", key)
    return cert, key


def issue(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    directory: Path,
    name: str,
    common_name: str,
    *,
    server_names: list[str] | None = None,
    organization: str | None = None,
) -> tuple[Path, Path]:
    """A serving (with ``server_names``) or client certificate signed by ``ca``: ``<name>.crt`` and ``.key``."""
    key = ec.generate_private_key(ec.SECP256R1())
    usage = [ExtendedKeyUsageOID.SERVER_AUTH] if server_names else [ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = _certificate(common_name, key, ca, usage=usage, names=server_names, organization=organization)
    crt, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    crt.write_bytes(_pem(cert))
    _write_key(key_path, key)
    return crt, key_path


def kubeconfig(path: Path, server: str, ca: Path, token: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "eo-node",
                "cluster": {"server": server, "certificate-authority-data": base64.b64encode(ca.read_bytes()).decode()},
            }
        ],
        "users": [{"name": "user", "user": {"token": token}}],
        "contexts": [{"name": "eo-node", "context": {"cluster": "eo-node", "user": "user"}}],
        "current-context": "eo-node",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)


def make_pki(directory: Path, *, node: str, server: str, server_names: list[str]) -> Pki:
    """Everything the cluster's components need, written once into ``directory``."""
    from .controlplane import _service_account_keys

    pki = Pki(directory)
    ca = make_ca(directory, "eligibility-operator-node-ca")
    issue(ca, directory, "apiserver", "kube-apiserver", server_names=server_names)
    issue(ca, directory, "apiserver-kubelet-client", "kube-apiserver-kubelet-client", organization="system:masters")
    _service_account_keys(directory)
    lines = []
    for who, (pattern, groups) in IDENTITIES.items():
        token = secrets.token_urlsafe(32)
        user = pattern.format(node=node)
        lines.append(f'{token},{user},{user},"{groups}"' if groups else f"{token},{user},{user}")
        kubeconfig(pki.kubeconfig(who), server, pki.ca, token)
    tokens = directory / "tokens.csv"
    tokens.write_text("\n".join(lines) + "\n")
    tokens.chmod(0o600)
    return pki
