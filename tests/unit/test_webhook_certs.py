"""Cert mode self, without a cluster: when the leader issues or renews, what a replica serves, conflicts."""

from __future__ import annotations

import base64
import datetime as dt
import json
import ssl
from pathlib import Path
from typing import Any

import pytest

from eligibility_operator.runtime.config import OLM_CERT_DIRS, cert_source
from eligibility_operator.runtime.kube.errors import ApiHttpError
from eligibility_operator.runtime.leadership import AlwaysLeader
from eligibility_operator.runtime.serving import certs

HOSTS = ["eligibility-operator-webhook.ns.svc", "127.0.0.1"]
NOW = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


class Follower(AlwaysLeader):
    def may_write(self) -> bool:
        return False


class MemoryApi:
    """The two objects cert mode self touches, with resourceVersions (409 on a stale write)."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.writes = 0
        self.conflict_once = False

    def request(self, method: str, path: str, *, body: Any = None) -> dict[str, Any]:
        if method == "GET":
            if path not in self.objects:
                raise ApiHttpError(404, "Not Found")
            return json.loads(json.dumps(self.objects[path]))
        if method == "POST":
            path = f"{path}/{body['metadata']['name']}"
            if path in self.objects:
                raise ApiHttpError(409, "Conflict", "already exists")
        elif self.conflict_once or body["metadata"].get("resourceVersion") != self.objects[path]["metadata"].get(
            "resourceVersion"
        ):
            self.conflict_once = False
            raise ApiHttpError(409, "Conflict")
        self.writes += 1
        body = json.loads(json.dumps(body))
        body["metadata"]["resourceVersion"] = str(self.writes)
        self.objects[path] = body
        return body


SECRET_PATH = "/api/v1/namespaces/ns/secrets/tls"
VWC_PATH = f"{certs.VWC_PATH}/vwc"


def keeper(api: MemoryApi, leader: bool = True, when: dt.datetime = NOW) -> certs.SecretCerts:
    leadership = AlwaysLeader("a") if leader else Follower("b")
    return certs.SecretCerts(api, leadership, "ns", "tls", HOSTS, "vwc", clock=lambda: when)


def with_vwc() -> MemoryApi:
    api = MemoryApi()
    api.objects[VWC_PATH] = {"metadata": {"name": "vwc", "resourceVersion": "0"}, "webhooks": [{"clientConfig": {}}]}
    return api


def test_nothing_to_renew_while_fresh() -> None:
    issued, why = certs.renewed(None, HOSTS, NOW) or pytest.fail("nothing issued")
    assert why == "CA and serving certificate issued" and issued.trusted == issued.ca_cert
    assert certs.renewed(issued, HOSTS, NOW + dt.timedelta(days=certs.CERT_DAYS - certs.CERT_RENEW_DAYS - 1)) is None


def test_serving_certificate_renewed_before_expiry_with_the_same_ca() -> None:
    issued, _ = certs.renewed(None, HOSTS, NOW) or pytest.fail()
    later = NOW + dt.timedelta(days=certs.CERT_DAYS - certs.CERT_RENEW_DAYS + 1)
    fresh, why = certs.renewed(issued, HOSTS, later) or pytest.fail("not renewed")
    assert "before expiry" in why and fresh.ca_cert == issued.ca_cert and fresh.cert != issued.cert
    assert fresh.trusted == issued.trusted  # nothing to inject


def test_ca_renewed_before_expiry_and_the_old_one_stays_trusted() -> None:
    issued, _ = certs.renewed(None, HOSTS, NOW) or pytest.fail()
    later = NOW + dt.timedelta(days=certs.CA_DAYS - certs.CA_RENEW_DAYS + 1)
    fresh, why = certs.renewed(issued, HOSTS, later) or pytest.fail("not renewed")
    assert why == "CA renewed before expiry" and fresh.ca_cert != issued.ca_cert
    assert fresh.trusted == fresh.ca_cert + issued.ca_cert


def test_new_host_names_reissue_and_damage_starts_over() -> None:
    issued, _ = certs.renewed(None, HOSTS, NOW) or pytest.fail()
    _, why = certs.renewed(issued, [*HOSTS, "other.ns.svc"], NOW) or pytest.fail()
    assert why == "serving certificate renewed for new host names"
    damaged = certs.Bundle(b"junk", b"junk", b"junk", b"junk", b"junk")
    _, why = certs.renewed(damaged, HOSTS, NOW) or pytest.fail()
    assert why == "CA and serving certificate issued"
    assert certs.Bundle.from_data({"ca.crt": "!!"}) is None


def test_leader_writes_secret_and_injects_ca_bundle_the_follower_only_reads(tmp_path: Path) -> None:
    api = with_vwc()
    assert keeper(api, leader=False).step() is None and SECRET_PATH not in api.objects
    bundle = keeper(api).step()
    assert bundle is not None and api.objects[SECRET_PATH]["type"] == "kubernetes.io/tls"
    ca = api.objects[VWC_PATH]["webhooks"][0]["clientConfig"]["caBundle"]
    assert base64.b64decode(ca) == bundle.trusted
    follower = keeper(api, leader=False)
    assert follower.step() == bundle and api.writes == 2
    # Both serve the Secret's certificate: the files load into a TLS context.
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    assert follower.load(bundle, context) and not follower.load(bundle, context)
    assert follower.certfile.read_bytes() == bundle.cert and follower.keyfile.stat().st_mode & 0o077 == 0


def test_a_conflicting_write_is_read_again_not_overwritten() -> None:
    api = with_vwc()
    first = keeper(api).step()
    assert first is not None
    api.conflict_once = True
    later = NOW + dt.timedelta(days=certs.CERT_DAYS)
    assert keeper(api, when=later).step() == first  # the write lost: what the Secret holds is served


def test_cert_modes_and_their_directories(tmp_path: Path) -> None:
    assert cert_source(None, None, ()) == ("self", None)
    assert cert_source(None, tmp_path, ()) == ("files", tmp_path)
    assert cert_source(None, None, ("127.0.0.1",)) == ("ephemeral", None)
    assert cert_source("cert-manager", None, ()) == ("cert-manager", Path("/etc/webhook/certs"))
    assert cert_source("service-ca", None, ())[1] == Path("/etc/webhook/certs")
    assert cert_source("olm", None, ())[1] in OLM_CERT_DIRS
    with pytest.raises(ValueError, match="files needs --webhook-cert-dir"):
        cert_source("files", None, ())
    with pytest.raises(ValueError, match="expected one of"):
        cert_source("vault", None, ())


def test_olm_mounts_are_served_under_either_name(tmp_path: Path) -> None:
    """OLM mounts a webhook's certificate as tls.crt/tls.key, an APIService's as apiserver.crt/.key."""
    from eligibility_operator.runtime.app import _mounted_cert
    from eligibility_operator.runtime.serving.webhook import self_signed, tls_context

    webhook_dir, apiservice_dir = tmp_path / "serving-certs", tmp_path / "certificates"
    made = self_signed(webhook_dir, ["eligibility-operator-service.ns.svc"])
    assert _mounted_cert(webhook_dir).certfile == made.certfile
    apiservice_dir.mkdir()
    (apiservice_dir / "apiserver.crt").write_bytes(made.certfile.read_bytes())
    (apiservice_dir / "apiserver.key").write_bytes(made.keyfile.read_bytes())
    cert = _mounted_cert(apiservice_dir)
    assert cert.certfile.name == "apiserver.crt" and cert.keyfile.name == "apiserver.key"
    tls_context(cert)  # loads: the operator serves with it


def test_a_missing_configuration_never_stops_serving() -> None:
    api = MemoryApi()  # no ValidatingWebhookConfiguration
    errors: list[str] = []
    certs_ = certs.SecretCerts(api, AlwaysLeader("a"), "ns", "tls", HOSTS, "vwc", on_error=errors.append)
    assert certs_.step() is not None and errors == ["webhook_configuration"]
    api.objects[VWC_PATH] = {"metadata": {"name": "vwc", "resourceVersion": "0"}, "webhooks": [{"clientConfig": {}}]}
    bundle = certs_.step()  # installed later: injected on the next round
    assert bundle is not None and errors == ["webhook_configuration"]
    assert api.objects[VWC_PATH]["webhooks"][0]["clientConfig"]["caBundle"] == base64.b64encode(bundle.trusted).decode()
    # A configuration re-applied without its caBundle (kubectl replace) is mended on the next round.
    del api.objects[VWC_PATH]["webhooks"][0]["clientConfig"]["caBundle"]
    certs_.step()
    assert api.objects[VWC_PATH]["webhooks"][0]["clientConfig"]["caBundle"] == base64.b64encode(bundle.trusted).decode()
