"""Command line: ``eligibility-operator run | check | crds | default-matrix``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="eligibility-operator")
def main() -> None:
    """Support eligibility for Stakater products, checked in the cluster."""


# ------------------------------------------------------------------------ run


@main.command()
@click.option(
    "--namespace",
    "-n",
    "namespaces",
    multiple=True,
    help="Watch only these namespaces (repeatable). Default: the whole cluster.",
)
@click.option(
    "--metrics-port",
    default=8080,
    show_default=True,
    help="Port serving /metrics, /healthz (liveness) and /readyz (initial listing done).",
)
@click.option("--metrics-host", default="0.0.0.0", show_default=True, help="Address to serve metrics on.")
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, exists=True),
    envvar="KUBECONFIG",
    help="Kubeconfig to use outside a cluster (default: in-cluster, then $KUBECONFIG).",
)
@click.option(
    "--coalesce",
    default=0.05,
    show_default=True,
    help="Seconds to gather workload changes before re-evaluating engagements.",
)
@click.option(
    "--webhook-port",
    default=0,
    show_default=True,
    help="Serve the validating admission webhook over TLS on this port (0: no webhook).",
)
@click.option(
    "--webhook-cert-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory with tls.crt and tls.key (e.g. a cert-manager Secret).",
)
@click.option(
    "--webhook-self-signed",
    "self_signed",
    multiple=True,
    help="Generate a CA and serving certificate for this host or IP at start (repeatable).",
)
@click.option(
    "--webhook-manage-config",
    default=None,
    help="Create this ValidatingWebhookConfiguration with the CA bundle; delete it on exit.",
)
@click.option(
    "--webhook-url", default=None, help="URL the API server uses to reach the webhook (default https://127.0.0.1:PORT)."
)
@click.option(
    "--exempt-namespace",
    "exempt",
    multiple=True,
    help="Namespace the webhook never judges (repeatable; kube-system and the operator's own always).",
)
@click.option(
    "--webhook-client-ca",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Mutual TLS: accept only clients (the API server) with a certificate signed by this CA.",
)
@click.option(
    "--cross-namespace-engagements",
    "cross_namespace",
    default="*",
    show_default=True,
    help="Comma-separated namespaces whose engagements may cover other namespaces ('*': all). "
    "Engagements elsewhere cover at most their own namespace.",
)
@click.option(
    "--watch-inactivity-timeout",
    "inactivity",
    default=70.0,
    show_default=True,
    help="Reopen a watch that delivered nothing (not even a bookmark) for this many seconds.",
)
@click.option(
    "--leader-election/--no-leader-election",
    default=True,
    show_default=True,
    help="Hold a Lease to write; replicas without it only watch and serve admission and metrics.",
)
@click.option(
    "--leader-election-namespace",
    default=None,
    help="Namespace of the Lease `eligibility-operator` (default: $POD_NAMESPACE, else the service account's).",
)
@click.option("--lease-duration", default=10.0, show_default=True, help="Seconds others wait for a silent leader.")
@click.option(
    "--renew-deadline", default=7.0, show_default=True, help="Seconds a leader writes without a successful renewal."
)
@click.option("--retry-period", default=2.0, show_default=True, help="Seconds between renewals and attempts.")
@click.option(
    "--shutdown-drain",
    default=5.0,
    show_default=True,
    help="After SIGTERM, fail /readyz but keep answering admission this many seconds (with --webhook-port).",
)
@click.option(
    "--cluster-name",
    envvar="ELIGIBILITY_OPERATOR_CLUSTER_NAME",
    default="",
    help="Add cluster=NAME to every metric series, for many clusters in one Prometheus. Leave empty when "
    "Prometheus adds the cluster label itself (external_labels); never both.",
)
@click.option("--verbose", "-v", is_flag=True, help="Debug logging.")
def run(
    namespaces: tuple[str, ...],
    metrics_port: int,
    metrics_host: str,
    kubeconfig: str | None,
    coalesce: float,
    webhook_port: int,
    webhook_cert_dir: Path | None,
    self_signed: tuple[str, ...],
    webhook_manage_config: str | None,
    webhook_url: str | None,
    exempt: tuple[str, ...],
    webhook_client_ca: Path | None,
    cross_namespace: str,
    inactivity: float,
    leader_election: bool,
    leader_election_namespace: str | None,
    lease_duration: float,
    renew_deadline: float,
    retry_period: float,
    shutdown_drain: float,
    cluster_name: str,
    verbose: bool,
) -> None:
    """Run the operator (and, with --webhook-port, the admission webhook)."""
    import asyncio
    import logging

    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig
    import kopf

    from .kopf_app import WebhookOptions, run_operator
    from .kubeapi import KubeClient

    kopf.configure(verbose=verbose, log_format=kopf.LogFormat.PLAIN)
    logging.getLogger("eligibility_operator").setLevel(logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        # Kopf logs every handler call at INFO: with thousands of workloads that is noise.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)

    webhook = None
    if webhook_port:
        if not (webhook_cert_dir or self_signed):
            raise click.UsageError("--webhook-port needs --webhook-cert-dir or --webhook-self-signed")
        webhook = WebhookOptions(
            port=webhook_port,
            cert_dir=webhook_cert_dir,
            self_signed_hosts=self_signed,
            manage_configuration=webhook_manage_config,
            url=webhook_url,
            exempt_namespaces=frozenset({"kube-system", _own_namespace(), *exempt}),
            client_ca=webhook_client_ca,
        )

    from . import __version__
    from .leadership import ElectionOptions, LeaseTiming, default_identity

    try:
        timing = LeaseTiming(lease_duration, renew_deadline, retry_period)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    identity = default_identity()
    election = (
        ElectionOptions(leader_election_namespace or _own_namespace(), identity, timing) if leader_election else None
    )

    async def _main() -> None:
        kube = KubeClient()
        user_agent = f"eligibility-operator/{__version__} ({identity})"  # names the writer in audit logs
        kube.api.user_agent = user_agent
        await run_operator(
            kube,
            user_agent=user_agent,
            election=election,
            identity=identity,
            shutdown_drain=shutdown_drain,
            namespaces=list(namespaces) or None,
            coalesce_seconds=coalesce,
            metrics_host=metrics_host,
            metrics_port=metrics_port,
            inactivity_timeout=inactivity,
            cluster_name=cluster_name,
            webhook=webhook,
            cross_namespace=frozenset(n.strip() for n in cross_namespace.split(",") if n.strip()),
        )

    asyncio.run(_main())


# ------------------------------------------------------------ offline inputs

_Command = TypeVar("_Command", bound=Callable[..., Any])


def _offline_inputs(*, files: str, engagement: str, kubernetes: str) -> Callable[[_Command], _Command]:
    """The inputs ``check`` and ``triage`` share: manifests, engagement, matrix and platform versions."""
    options = (
        click.option(
            "-f",
            "--filename",
            "paths",
            multiple=True,
            required=True,
            type=click.Path(exists=True, path_type=Path),
            help=files,
        ),
        click.option(
            "--engagement",
            required=True,
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help=engagement,
        ),
        click.option(
            "--matrix",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            default=None,
            help="CompatibilityMatrix manifest. Default: the matrix shipped in the package.",
        ),
        click.option("--kubernetes-version", default=None, help=kubernetes),
        click.option("--openshift-version", default=None, help="OpenShift version, e.g. 4.18.3."),
    )

    def decorate(command: _Command) -> _Command:
        for option in reversed(options):  # the first option listed first in --help, as with stacked decorators
            command = option(command)
        return command

    return decorate


# ---------------------------------------------------------------------- check


@main.command()
@_offline_inputs(
    files="Manifest file or directory (recursive); repeatable.",
    engagement="SupportEngagement manifest to evaluate against.",
    kubernetes="Platform to check compatibility with, e.g. 1.30.2.",
)
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--strict", is_flag=True, help="Files or documents that are not Kubernetes objects are errors, not skipped."
)
def check(
    paths: tuple[Path, ...],
    engagement: Path,
    matrix: Path | None,
    kubernetes_version: str | None,
    openshift_version: str | None,
    output: str,
    strict: bool,
) -> None:
    """Evaluate manifests offline, as the operator would.

    \b
    Exit codes: 0 Eligible, 1 Limited, 3 Ineligible, 4 invalid input (unreadable
    paths, malformed Kubernetes objects, nothing to check, invalid engagement or
    matrix; never a crash), 2 usage error. Files that are not Kubernetes objects
    (values files, kustomize patches, CI configs, Helm templates) are skipped and
    counted.
    """
    from . import check_report
    from .core.evaluation import Platform

    try:
        spec = check_report.load_engagement(engagement)
        compiled = check_report.load_matrix_file(matrix)
        result = check_report.check(
            paths, spec, compiled, Platform(kubernetes_version, openshift_version), strict=strict
        )
        text = check_report.render_json(result) if output == "json" else check_report.render_table(result)
    except check_report.InputError as exc:
        click.echo(f"error: {check_report.printable(str(exc))}", err=True)
        sys.exit(check_report.EXIT_INPUT_ERROR)
    except Exception as exc:  # last resort: a crash must never read as a verdict (exit 1 is Limited)
        click.echo(
            f"error: internal error, no verdict: {type(exc).__name__}: {check_report.printable(str(exc))}", err=True
        )
        sys.exit(check_report.EXIT_INPUT_ERROR)
    click.echo(text)
    sys.exit(result.exit_code)


# --------------------------------------------------------------------- triage


@main.command()
@_offline_inputs(
    files="The SupportRequest first, then manifests of the affected workloads (files or directories).",
    engagement="SupportEngagement manifest the request falls under.",
    kubernetes="Platform version for the diagnostics, e.g. 1.30.2.",
)
@click.option(
    "--now",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="Time the request is opened (UTC unless an offset is given). Default: spec.ticket.openedAt, else now.",
)
@click.option("--name", "request_name", default=None, help="The SupportRequest to triage when the file holds several.")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def triage(
    paths: tuple[Path, ...],
    engagement: Path,
    matrix: Path | None,
    kubernetes_version: str | None,
    openshift_version: str | None,
    now: Any,
    request_name: str | None,
    output: str,
) -> None:
    """Triage a SupportRequest offline, as the operator would.

    \b
    Exit codes: 0 in scope (InScope or ThirdParty), 1 not in scope (Excluded,
    ChangeRequest, NotCovered), 4 invalid input (unreadable files, invalid request,
    engagement or matrix, or a request the operator would mark Ready=False), 2 usage error.
    """
    import datetime as dt

    from . import request_triage as rt
    from .check_input import InputError, load_matrix_file
    from .core.evaluation import Platform

    request_path, *manifests = paths
    when = None
    if now is not None:
        when = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    try:
        request = rt.load_request(request_path, request_name)
        view = rt.load_engagement_view(engagement)
        compiled = load_matrix_file(matrix)
        status, problems = rt.triage_offline(
            request, view, compiled, manifests, Platform(kubernetes_version, openshift_version), when
        )
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(rt.EXIT_INPUT_ERROR)
    if output == "json":
        click.echo(rt.render_json(status, problems))
    else:
        click.echo(rt.render_table(request, status, problems))
    sys.exit(rt.exit_code(status, problems))


# ----------------------------------------------------------------------- crds


@main.command()
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write one file per CRD into this directory instead of printing them.",
)
def crds(output_dir: Path | None) -> None:
    """Print (or write) the CRDs generated from the API models."""
    from .api import crdgen

    if output_dir is None:
        click.echo(crdgen.render_all(), nl=False)
        return
    output_dir.mkdir(parents=True, exist_ok=True)
    for filename, builder in crdgen.CRD_FILES.items():
        (output_dir / filename).write_text(crdgen.render(builder))
        click.echo(f"wrote {output_dir / filename}")


@main.command("default-matrix")
def default_matrix() -> None:
    """Print the default CompatibilityMatrix shipped with the package."""
    from .default_matrix import default_matrix_text

    click.echo(default_matrix_text(), nl=False)


def _own_namespace() -> str:
    """The namespace the operator runs in: $POD_NAMESPACE, the service account's, else the default."""
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        return Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read_text().strip()
    except OSError:
        return "eligibility-operator"


if __name__ == "__main__":
    main()
