"""The operator's configuration: one frozen tree, built once from the command line.

Each component takes its own part (the watches :class:`WatchConfig`, the metrics server
:class:`ServingConfig`, the admission webhook :class:`WebhookConfig`, leader election
:class:`ElectionConfig`). The options of ``eligibility-operator run`` are declared here, once, in
:data:`RUN_OPTIONS`, each with the field it sets: the command line is built from that table, and so is the
options reference in ``docs/reference/cli.md``.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from .leadership import LEASE_NAME, LeaseTiming


@dataclass(frozen=True)
class WatchConfig:
    """The watches: the operator's own (workloads, :mod:`.watches`) and Kopf's (its resources, namespaces)."""

    namespaces: tuple[str, ...] = ()  # empty: the whole cluster
    coalesce_seconds: float = 0.05
    # A watch that delivers nothing (not even a bookmark) for this long is presumed dead and reopened:
    # this is what notices a frozen API server or a silently dropped connection.
    inactivity_timeout: float = 70.0
    cross_namespace: frozenset[str] = frozenset({"*"})
    # The server ends each watch after this long and it is resumed from the last resource version; the
    # client gives up 30 s later if the server did not (a half-open connection).
    server_timeout: int = 300
    connect_timeout: float = 15.0
    # Each LIST page (and Kopf's own calls) fails after a minute instead of five, and is retried.
    request_timeout: float = 60.0
    # List in pages: a single LIST of 10,000 Deployments is tens of MB of JSON parsed at once.
    page_size: int = 500
    rescan_seconds: float = 60.0  # how often a resource not served (no CRD) is looked for again

    @property
    def client_timeout(self) -> float:
        return self.server_timeout + 30


@dataclass(frozen=True)
class ServingConfig:
    host: str = "0.0.0.0"  # a pod serves probes and metrics on all its interfaces
    port: int = 8080
    cluster_name: str = ""  # label every series with cluster=NAME (empty: no such label)


# Where the serving certificate comes from (--webhook-cert-mode). `self`: the operator keeps a CA and a
# certificate in a Secret and injects the caBundle (no add-on); `cert-manager`, `service-ca` (OpenShift),
# `files`: tls.crt and tls.key in --webhook-cert-dir, reloaded when renewed; `olm`: the paths OLM mounts for
# a CSV's webhookdefinitions; `ephemeral`: a CA and certificate made at start for --webhook-self-signed
# hosts (a local control plane, with --webhook-manage-config).
CERT_MODES = ("self", "cert-manager", "service-ca", "olm", "files", "ephemeral")
# OLM mounts a webhook's certificate here (tls.crt, tls.key), and the same as an APIService's here.
OLM_CERT_DIRS = (Path("/tmp/k8s-webhook-server/serving-certs"), Path("/apiserver.local.config/certificates"))
# Where the manifests mount the cert-manager or service-ca Secret.
MOUNTED_CERT_DIR = Path("/etc/webhook/certs")


@dataclass(frozen=True)
class WebhookConfig:
    port: int
    host: str = "0.0.0.0"  # a pod serves on all its interfaces
    cert_mode: str = "files"  # one of CERT_MODES
    cert_dir: Path | None = None  # tls.crt and tls.key, e.g. from cert-manager
    # cert_mode self: the Secret, the Service the API server calls (the certificate's names) and the
    # configuration whose caBundle the leader keeps equal to the Secret's CAs
    secret: str = "eligibility-operator-webhook-tls"
    service: str = "eligibility-operator-webhook"
    configuration: str | None = "eligibility-operator"
    namespace: str = "eligibility-operator"
    cert_check_seconds: float = 30.0  # cert mode self: how often each replica reads the Secret
    self_signed_hosts: tuple[str, ...] = ()  # generate a CA and certificate for these at start
    manage_configuration: str | None = None  # name of a ValidatingWebhookConfiguration to create and remove
    url: str | None = None  # how the API server reaches us, for a managed configuration
    exempt_namespaces: frozenset[str] = frozenset({"kube-system"})
    timeout_seconds: int = 5
    client_ca: Path | None = None  # mutual TLS: only clients with a certificate signed by this CA


@dataclass(frozen=True)
class ElectionConfig:
    namespace: str
    identity: str
    timing: LeaseTiming = field(default_factory=LeaseTiming)
    name: str = LEASE_NAME


@dataclass(frozen=True)
class OperatorConfig:
    identity: str = "standalone"  # names this replica in the Lease and in audit logs
    watch: WatchConfig = field(default_factory=WatchConfig)
    serving: ServingConfig = field(default_factory=ServingConfig)
    webhook: WebhookConfig | None = None  # None: no admission webhook
    election: ElectionConfig | None = None  # None: always write (--no-leader-election)
    shutdown_drain: float = 5.0  # after SIGTERM, keep answering admission this long (with a webhook)
    # where the last good copies of sourced matrices are kept (a ConfigMap), the Lease's namespace
    matrix_store_namespace: str = "eligibility-operator"
    verbose: bool = False

    @property
    def user_agent(self) -> str:
        """Names this replica in the API server's audit log (which replica wrote what)."""
        from .. import __version__

        return f"eligibility-operator/{__version__} ({self.identity})"


# ---------------------------------------------------------------------- the options of `run`


@dataclass(frozen=True)
class Option:
    """One option of ``run``: its flags, the configuration field it sets, and click's settings."""

    flags: tuple[str, ...]
    sets: str  # the OperatorConfig field, as documented ("watch.coalesce_seconds")
    help: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    def decorator(self) -> Callable[[Any], Any]:
        settings = dict(self.settings)
        default = config_default(self.sets)
        if default is not _NO_DEFAULT and "default" not in settings and not settings.get("multiple"):
            # the configuration's default, written once there
            settings["default"] = ",".join(sorted(default)) if isinstance(default, frozenset) else default
        return click.option(*self.flags, help=self.help, **settings)


_NO_DEFAULT = object()


def config_default(path: str) -> Any:
    """The default of the :class:`OperatorConfig` field at ``path`` ("watch.coalesce_seconds"), following
    nested configurations (also those that are None by default, by their type); _NO_DEFAULT if it has none."""
    cls: Any = OperatorConfig
    steps = path.split(".")
    for i, step in enumerate(steps):
        fields = {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
        if step not in fields:
            return _NO_DEFAULT
        if i == len(steps) - 1:
            found = fields[step]
            if found.default is not dataclasses.MISSING:
                return found.default
            if found.default_factory is not dataclasses.MISSING:
                return found.default_factory()
            return _NO_DEFAULT
        hint = typing.get_type_hints(cls)[step]
        cls = next((t for t in typing.get_args(hint) if t is not type(None)), hint)
    return _NO_DEFAULT


RUN_OPTIONS: tuple[Option, ...] = (
    Option(
        ("--namespace", "-n", "namespaces"),
        "watch.namespaces",
        "Watch only these namespaces (repeatable). Default: the whole cluster.",
        {"multiple": True},
    ),
    Option(
        ("--metrics-port",),
        "serving.port",
        "Port serving /metrics, /healthz (liveness) and /readyz (initial listing done).",
        {"show_default": True},
    ),
    Option(
        ("--metrics-host",),
        "serving.host",
        "Address to serve metrics on.",
        {"show_default": True},
    ),
    Option(
        ("--kubeconfig",),
        "(environment)",
        "Kubeconfig to use outside a cluster (default: in-cluster, then $KUBECONFIG).",
        {"type": click.Path(dir_okay=False, exists=True), "envvar": "KUBECONFIG"},
    ),
    Option(
        ("--coalesce",),
        "watch.coalesce_seconds",
        "Seconds to gather workload changes before re-evaluating engagements.",
        {"show_default": True},
    ),
    Option(
        ("--webhook-port",),
        "webhook.port",
        "Serve the validating admission webhook over TLS on this port (0: no webhook).",
        {"default": 0, "show_default": True},
    ),
    Option(
        ("--webhook-cert-mode",),
        "webhook.cert_mode",
        "Where the serving certificate comes from: self (a CA and certificate the operator keeps in a Secret, "
        "caBundle injected; no add-on), cert-manager, service-ca or files (tls.crt/tls.key in "
        "--webhook-cert-dir), olm (the paths OLM mounts), ephemeral (made at start for --webhook-self-signed). "
        "Default: files with --webhook-cert-dir, ephemeral with --webhook-self-signed, else self.",
        {"type": click.Choice(CERT_MODES), "default": None},
    ),
    Option(
        ("--webhook-secret",),
        "webhook.secret",
        "cert mode self: the Secret (in the operator's namespace) holding the CA and serving certificate.",
        {"show_default": True},
    ),
    Option(
        ("--webhook-service",),
        "webhook.service",
        "cert mode self: the Service the API server calls; the certificate names SERVICE.NAMESPACE.svc.",
        {"show_default": True},
    ),
    Option(
        ("--webhook-configuration",),
        "webhook.configuration",
        "cert mode self: the ValidatingWebhookConfiguration whose caBundle the leader keeps current ('' : none).",
        {"show_default": True},
    ),
    Option(
        ("--webhook-cert-check-interval", "cert_check"),
        "webhook.cert_check_seconds",
        "cert mode self: seconds between reads of the Secret (renewal by the leader, reload by every replica).",
        {"show_default": True},
    ),
    Option(
        ("--webhook-cert-dir",),
        "webhook.cert_dir",
        "Directory with tls.crt and tls.key (cert modes cert-manager, service-ca, files; default for the first "
        "two: /etc/webhook/certs).",
        {"type": click.Path(file_okay=False, path_type=Path), "default": None},
    ),
    Option(
        ("--webhook-self-signed", "self_signed"),
        "webhook.self_signed_hosts",
        "Generate a CA and serving certificate for this host or IP at start (repeatable); in cert mode self, "
        "more names for the Secret's certificate.",
        {"multiple": True},
    ),
    Option(
        ("--webhook-manage-config",),
        "webhook.manage_configuration",
        "Create this ValidatingWebhookConfiguration with the CA bundle; delete it on exit.",
        {"default": None},
    ),
    Option(
        ("--webhook-url",),
        "webhook.url",
        "URL the API server uses to reach the webhook (default https://127.0.0.1:PORT).",
        {"default": None},
    ),
    Option(
        ("--exempt-namespace", "exempt"),
        "webhook.exempt_namespaces",
        "Namespace the webhook never judges (repeatable; kube-system and the operator's own always).",
        {"multiple": True},
    ),
    Option(
        ("--webhook-client-ca",),
        "webhook.client_ca",
        "Mutual TLS: accept only clients (the API server) with a certificate signed by this CA.",
        {"type": click.Path(dir_okay=False, exists=True, path_type=Path), "default": None},
    ),
    Option(
        ("--cross-namespace-engagements", "cross_namespace"),
        "watch.cross_namespace",
        "Comma-separated namespaces whose engagements may cover other namespaces ('*': all). "
        "Engagements elsewhere cover at most their own namespace.",
        {"show_default": True},
    ),
    Option(
        ("--watch-inactivity-timeout", "inactivity"),
        "watch.inactivity_timeout",
        "Reopen a watch that delivered nothing (not even a bookmark) for this many seconds.",
        {"show_default": True},
    ),
    Option(
        ("--leader-election/--no-leader-election",),
        "election",
        "Hold a Lease to write; replicas without it only watch and serve admission and metrics.",
        {"default": True, "show_default": True},
    ),
    Option(
        ("--leader-election-namespace",),
        "election.namespace",
        "Namespace of the Lease `eligibility-operator` (default: $POD_NAMESPACE, else the service account's).",
        {"default": None},
    ),
    Option(
        ("--lease-duration",),
        "election.timing.duration",
        "Seconds others wait for a silent leader.",
        {"show_default": True},
    ),
    Option(
        ("--renew-deadline",),
        "election.timing.renew_deadline",
        "Seconds a leader writes without a successful renewal.",
        {"show_default": True},
    ),
    Option(
        ("--retry-period",),
        "election.timing.retry_period",
        "Seconds between renewals and attempts.",
        {"show_default": True},
    ),
    Option(
        ("--shutdown-drain",),
        "shutdown_drain",
        "After SIGTERM, fail /readyz but keep answering admission this many seconds (with --webhook-port).",
        {"show_default": True},
    ),
    Option(
        ("--cluster-name",),
        "serving.cluster_name",
        "Add cluster=NAME to every metric series, for many clusters in one Prometheus. Leave empty when "
        "Prometheus adds the cluster label itself (external_labels); never both.",
        {"envvar": "ELIGIBILITY_OPERATOR_CLUSTER_NAME"},
    ),
    Option(("--verbose", "-v"), "verbose", "Debug logging.", {"is_flag": True}),
)

_Command = TypeVar("_Command", bound=Callable[..., Any])


def run_options(command: _Command) -> _Command:
    """Decorate ``run`` with every option of :data:`RUN_OPTIONS`, in the table's order."""
    for option in reversed(RUN_OPTIONS):
        command = option.decorator()(command)
    return command


def own_namespace() -> str:
    """The namespace the operator runs in: $POD_NAMESPACE, the service account's, else the default."""
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        return Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read_text().strip()
    except OSError:
        return "eligibility-operator"


def cert_source(mode: str | None, cert_dir: Path | None, self_signed: tuple[str, ...]) -> tuple[str, Path | None]:
    """The certificate mode and directory from the options; ValueError names what is inconsistent."""
    if mode is None:
        mode = "files" if cert_dir else "ephemeral" if self_signed else "self"
    if mode not in CERT_MODES:
        raise ValueError(f"--webhook-cert-mode {mode!r}: expected one of {', '.join(CERT_MODES)}")
    if mode == "files" and cert_dir is None:
        raise ValueError("--webhook-cert-mode files needs --webhook-cert-dir")
    if mode == "ephemeral" and not self_signed:
        raise ValueError("--webhook-cert-mode ephemeral needs --webhook-self-signed HOST")
    if mode in ("cert-manager", "service-ca") and cert_dir is None:
        cert_dir = MOUNTED_CERT_DIR
    if mode == "olm" and cert_dir is None:
        cert_dir = next((d for d in OLM_CERT_DIRS if d.is_dir()), OLM_CERT_DIRS[0])
    return mode, cert_dir


def from_options(values: Mapping[str, Any], identity: str) -> OperatorConfig:
    """The configuration from ``run``'s parsed options; ValueError names what is inconsistent."""
    webhook = None
    if values["webhook_port"]:
        mode, cert_dir = cert_source(values.get("webhook_cert_mode"), values["webhook_cert_dir"], values["self_signed"])
        webhook = WebhookConfig(
            port=values["webhook_port"],
            cert_mode=mode,
            cert_dir=cert_dir,
            secret=values.get("webhook_secret") or "eligibility-operator-webhook-tls",
            service=values.get("webhook_service") or "eligibility-operator-webhook",
            configuration=values.get("webhook_configuration", "eligibility-operator") or None,
            namespace=own_namespace(),
            cert_check_seconds=values.get("cert_check") or 30.0,
            self_signed_hosts=tuple(values["self_signed"]),
            manage_configuration=values["webhook_manage_config"],
            url=values["webhook_url"],
            exempt_namespaces=frozenset({"kube-system", own_namespace(), *values["exempt"]}),
            client_ca=values["webhook_client_ca"],
        )
    election = None
    if values["leader_election"]:
        timing = LeaseTiming(values["lease_duration"], values["renew_deadline"], values["retry_period"])
        election = ElectionConfig(values["leader_election_namespace"] or own_namespace(), identity, timing)
    cross = frozenset(n.strip() for n in values["cross_namespace"].split(",") if n.strip())
    return OperatorConfig(
        identity=identity,
        watch=WatchConfig(tuple(values["namespaces"]), values["coalesce"], values["inactivity"], cross),
        serving=ServingConfig(values["metrics_host"], values["metrics_port"], values["cluster_name"]),
        webhook=webhook,
        election=election,
        shutdown_drain=values["shutdown_drain"],
        verbose=values["verbose"],
        matrix_store_namespace=values["leader_election_namespace"] or own_namespace(),
    )
