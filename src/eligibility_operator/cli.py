"""Command line: ``eligibility-operator run | check | crds | default-matrix | cluster``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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
    "--watch-inactivity-timeout",
    "inactivity",
    default=70.0,
    show_default=True,
    help="Reopen a watch that delivered nothing (not even a bookmark) for this many seconds.",
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
    inactivity: float,
    verbose: bool,
) -> None:
    """Run the operator (and, with --webhook-port, the admission webhook)."""
    import asyncio
    import logging

    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig
    import kopf

    from .kopf_app import WebhookOptions, run_operator
    from .kubeapi import KubeApi
    from .reconciler import Reconciler

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
        )

    async def _main() -> None:
        reconciler = Reconciler(KubeApi(), coalesce_seconds=coalesce, namespaces=frozenset(namespaces))
        await run_operator(
            reconciler,
            namespaces=list(namespaces) or None,
            metrics_host=metrics_host,
            metrics_port=metrics_port,
            inactivity_timeout=inactivity,
            webhook=webhook,
        )

    asyncio.run(_main())


# ---------------------------------------------------------------------- check


@main.command()
@click.option(
    "-f",
    "--filename",
    "paths",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Manifest file or directory (recursive); repeatable.",
)
@click.option(
    "--engagement",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="SupportEngagement manifest to evaluate against.",
)
@click.option(
    "--matrix",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CompatibilityMatrix manifest. Default: the matrix shipped in the package.",
)
@click.option("--kubernetes-version", default=None, help="Platform to check compatibility with, e.g. 1.30.2.")
@click.option("--openshift-version", default=None, help="OpenShift version, e.g. 4.18.3.")
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
    from . import checking
    from .core.evaluation import Platform

    try:
        spec = checking.load_engagement(engagement)
        compiled = checking.load_matrix_file(matrix)
        result = checking.check(paths, spec, compiled, Platform(kubernetes_version, openshift_version), strict=strict)
        text = checking.render_json(result) if output == "json" else checking.render_table(result)
    except checking.InputError as exc:
        click.echo(f"error: {checking.printable(str(exc))}", err=True)
        sys.exit(checking.EXIT_INPUT_ERROR)
    except Exception as exc:  # last resort: a crash must never read as a verdict (exit 1 is Limited)
        click.echo(f"error: internal error, no verdict: {type(exc).__name__}: {checking.printable(str(exc))}", err=True)
        sys.exit(checking.EXIT_INPUT_ERROR)
    click.echo(text)
    sys.exit(result.exit_code)


# --------------------------------------------------------------------- triage


@main.command()
@click.option(
    "-f",
    "--filename",
    "paths",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="The SupportRequest first, then manifests of the affected workloads (files or directories).",
)
@click.option(
    "--engagement",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="SupportEngagement manifest the request falls under.",
)
@click.option(
    "--matrix",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CompatibilityMatrix manifest. Default: the matrix shipped in the package.",
)
@click.option("--kubernetes-version", default=None, help="Platform version for the diagnostics, e.g. 1.30.2.")
@click.option("--openshift-version", default=None, help="OpenShift version, e.g. 4.18.3.")
@click.option(
    "--now",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="Time the request is opened (UTC unless an offset is given). Default: spec.ticket.openedAt, else now.",
)
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def triage(
    paths: tuple[Path, ...],
    engagement: Path,
    matrix: Path | None,
    kubernetes_version: str | None,
    openshift_version: str | None,
    now: Any,
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
        request = rt.load_request(request_path)
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
    from .defaults import default_matrix_text

    click.echo(default_matrix_text(), nl=False)


# -------------------------------------------------------------------- cluster


@main.group()
def cluster() -> None:
    """A local control plane (etcd + kube-apiserver on loopback) for demos and tests."""


@cluster.command("serve")
@click.option("--dir", "workdir", type=click.Path(file_okay=False, path_type=Path), required=True)
def cluster_serve(workdir: Path) -> None:
    """Run the control plane in the foreground until interrupted."""
    from .controlplane import serve

    serve(workdir.resolve())


@cluster.command("up")
@click.option(
    "--dir", "workdir", type=click.Path(file_okay=False, path_type=Path), default=Path(".cluster"), show_default=True
)
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait (first run builds kube-apiserver).")
def cluster_up(workdir: Path, timeout: float) -> None:
    """Start the control plane in the background, apply CRDs and the default matrix, print KUBECONFIG."""
    from .controlplane import ensure_binaries

    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    pidfile, ready = workdir / "pid", workdir / "ready"
    from .defaults import apply_defaults

    kubeconfig = workdir / "kubeconfig"
    if pidfile.exists() and _alive(int(pidfile.read_text())) and ready.exists():
        apply_defaults(kubeconfig)
        click.echo("control plane already running; CRDs and default matrix applied")
        click.echo(f"export KUBECONFIG={kubeconfig}")
        return
    ensure_binaries()  # in the foreground, so build output is visible
    ready.unlink(missing_ok=True)
    log = open(workdir / "serve.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "eligibility_operator.cli", "cluster", "serve", "--dir", str(workdir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    pidfile.write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise click.ClickException(f"control plane did not start; see {workdir / 'serve.log'}")
        time.sleep(0.2)
    apply_defaults(kubeconfig)
    click.echo(f"control plane running (pid {proc.pid}); CRDs and default matrix applied")
    click.echo(f"export KUBECONFIG={kubeconfig}")


@cluster.command("down")
@click.option(
    "--dir", "workdir", type=click.Path(file_okay=False, path_type=Path), default=Path(".cluster"), show_default=True
)
def cluster_down(workdir: Path) -> None:
    """Stop the control plane started by ``cluster up`` and remove its directory."""
    import shutil

    pidfile = workdir / "pid"
    if pidfile.exists():
        pid = int(pidfile.read_text())
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
            for _ in range(150):
                if not _alive(pid):
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
    shutil.rmtree(workdir, ignore_errors=True)
    click.echo("control plane stopped")


@main.command()
@click.option(
    "--dir", "workdir", type=click.Path(file_okay=False, path_type=Path), default=Path(".cluster"), show_default=True
)
@click.option("--once", is_flag=True, envvar="DEMO_ONCE", help="Exit after printing (also DEMO_ONCE=1).")
def demo(workdir: Path, once: bool) -> None:
    """Local control plane + samples + operator: an ineligible, then an eligible engagement."""
    from .demo import run_demo

    run_demo(workdir.resolve(), once)


def _own_namespace() -> str:
    """The namespace the operator runs in: $POD_NAMESPACE, the service account's, else the default."""
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        return Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read_text().strip()
    except OSError:
        return "eligibility-operator"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child still answers kill(0); check its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


if __name__ == "__main__":
    main()
