"""Command line: ``eligibility-operator run | check | triage | crds | default-matrix | matrix build|diff``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .matrix_cli import matrix as matrix_commands
from .matrix_cli import matrix_reference
from .runtime.config import run_options


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="eligibility-operator")
def main() -> None:
    """Support eligibility for Stakater products, checked in the cluster."""


main.add_command(matrix_commands)  # matrix build | diff | keygen | sign | verify (matrix_cli.py)


# ------------------------------------------------------------------------ run


@main.command()
@run_options
def run(**values: Any) -> None:
    """Run the operator (and, with --webhook-port, the admission webhook).

    Every option sets one field of the operator's configuration (eligibility_operator.runtime.config)."""
    import asyncio
    import logging

    from .runtime.memory import fix_mmap_threshold, limit_arenas

    limit_arenas()  # before any thread starts (runtime/memory.py)
    fix_mmap_threshold()
    if values["kubeconfig"]:
        os.environ["KUBECONFIG"] = values["kubeconfig"]
    import kopf

    from .runtime.app import run_operator
    from .runtime.config import from_options
    from .runtime.kube.api import KubeClient
    from .runtime.leadership import default_identity

    identity = default_identity()
    try:
        config = from_options(values, identity)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    kopf.configure(verbose=config.verbose, log_format=kopf.LogFormat.PLAIN)
    logging.getLogger("eligibility_operator").setLevel(logging.DEBUG if config.verbose else logging.INFO)
    if not config.verbose:
        # Kopf logs every handler call at INFO: with thousands of workloads that is noise.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)

    async def _main() -> None:
        kube = KubeClient()
        kube.api.user_agent = f"eligibility-operator/{__version__} ({identity})"  # names the writer in audit logs
        await run_operator(kube, config)

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
            default=None,
            callback=matrix_reference,
            help="CompatibilityMatrix manifest, or (check) an https:// or oci:// reference verified with "
            "--matrix-digest / --matrix-public-key. Default: the matrix shipped in the package.",
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
@click.option("--matrix-digest", default=None, help="Pinned sha256:<hex> of a remote --matrix document.")
@click.option(
    "--matrix-public-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Ed25519 public key (PEM) that signed a remote --matrix (signature: URL.sig, or the OCI signature layer).",
)
@click.option(
    "--matrix-ca-bundle",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="PEM CA certificates to trust for a remote --matrix instead of the system's.",
)
def check(
    paths: tuple[Path, ...],
    engagement: Path,
    matrix: str | None,
    kubernetes_version: str | None,
    openshift_version: str | None,
    output: str,
    strict: bool,
    matrix_digest: str | None,
    matrix_public_key: Path | None,
    matrix_ca_bundle: Path | None,
) -> None:
    """Evaluate manifests offline, as the operator would.

    \b
    Exit codes: 0 Eligible, 1 Limited, 3 Ineligible, 4 invalid input (unreadable
    paths, malformed Kubernetes objects, nothing to check, invalid engagement or
    matrix; never a crash), 2 usage error. Files that are not Kubernetes objects
    (values files, kustomize patches, CI configs, Helm templates) are skipped and
    counted.
    """
    from . import matrix_cli
    from .core.evaluation import Platform
    from .offline import check as check_report

    try:
        spec = check_report.load_engagement(engagement)
        compiled = matrix_cli.load_matrix(matrix, matrix_digest, matrix_public_key, matrix_ca_bundle)
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
    matrix: str | None,
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
    engagement or matrix, or a request the operator would mark Ready=False; never
    a crash), 2 usage error.
    """
    import datetime as dt

    from . import matrix_cli
    from .core.evaluation import Platform
    from .offline import triage as rt
    from .offline.check import printable
    from .offline.files import InputError
    from .offline.loading import load_matrix_file

    request_path, *manifests = paths
    when = None
    if now is not None:
        when = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    try:
        request = rt.load_request(request_path, request_name)
        view = rt.load_engagement_view(engagement)
        if matrix is not None and matrix_cli.is_remote(matrix):
            raise click.UsageError("triage takes a matrix file; fetch and verify it with check --matrix URL")
        compiled = load_matrix_file(Path(matrix) if matrix else None)
        status, problems = rt.triage_offline(
            request, view, compiled, manifests, Platform(kubernetes_version, openshift_version), when
        )
        text = rt.render_json(status, problems) if output == "json" else rt.render_table(request, status, problems)
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(rt.EXIT_INPUT_ERROR)
    except Exception as exc:  # last resort: a crash must never read as a triage (exit 1 is "not in scope")
        click.echo(f"error: internal error, no triage: {type(exc).__name__}: {printable(str(exc))}", err=True)
        sys.exit(rt.EXIT_INPUT_ERROR)
    click.echo(text)
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
    from .offline.loading import default_matrix_text

    click.echo(default_matrix_text(), nl=False)


if __name__ == "__main__":
    main()
