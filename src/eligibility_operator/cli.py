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
        # The user agent names this replica in the API server's audit log; a watch may stream on the session
        # of the credentials before a login for up to its client timeout.
        kube = KubeClient(user_agent=config.user_agent, retire_after=config.watch.client_timeout)
        try:
            await run_operator(kube, config)
        finally:
            await kube.close()

    asyncio.run(_main())


# ------------------------------------------------------------ offline inputs

_Command = TypeVar("_Command", bound=Callable[..., Any])


def _offline_inputs(
    *, files: str, engagement: str, kubernetes: str, engagement_required: bool = True, stdin: bool = False
) -> Callable[[_Command], _Command]:
    """The inputs ``check`` and ``triage`` share: manifests, engagement, matrix and platform versions."""
    options = (
        click.option(
            "-f",
            "--filename",
            "paths",
            multiple=True,
            required=not stdin,  # check: -f or --cluster
            type=click.Path(exists=True, path_type=Path, allow_dash=stdin),
            help=files,
        ),
        click.option(
            "--engagement",
            required=engagement_required,
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
    files="Manifest file or directory (recursive); '-' reads standard input (bounded like a file); repeatable.",
    engagement="SupportEngagement manifest to evaluate against. Default: as an engagement covering every "
    "product in every namespace would (ProductSupport, no plan-specific terms).",
    kubernetes="Platform to check compatibility with, e.g. 1.30.2.",
    engagement_required=False,
    stdin=True,
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json", "sarif", "junit"]),
    default="table",
    show_default=True,
    help="sarif: SARIF 2.1.0 for code scanning; junit: JUnit XML, a failed testcase per finding that makes a "
    "version Ineligible or Limited.",
)
@click.option(
    "--output-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the report here instead of standard output (only for a verdict: exit 4 writes none); "
    "the verdict's line is still printed.",
)
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
@click.option(
    "--matrix-timeout",
    default="30s",
    show_default=True,
    help="Wall-clock limit for fetching a remote --matrix, document and signature together (e.g. 10s, 2m).",
)
@click.option(
    "--cluster",
    is_flag=True,
    help="Scan live clusters read-only through the kubeconfig instead of files (needs only list on what the "
    "operator watches).",
)
@click.option(
    "--context",
    "contexts",
    multiple=True,
    help="With --cluster: kubeconfig context to scan; repeatable (one table with a cluster column). "
    "Default: the current context.",
)
@click.option(
    "--kubeconfig",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="With --cluster: kubeconfig file. Default: $KUBECONFIG, else ~/.kube/config.",
)
@click.option(
    "--engagements-from-cluster",
    is_flag=True,
    help="With --cluster: judge by each SupportEngagement in the cluster, against the CompatibilityMatrix its "
    "matrixRef names there (inline or fetched from its spec.source) unless --matrix is given (needs list on "
    "supportengagements, and on compatibilitymatrices without --matrix).",
)
def check(
    paths: tuple[Path, ...],
    engagement: Path | None,
    matrix: str | None,
    kubernetes_version: str | None,
    openshift_version: str | None,
    output: str,
    output_file: Path | None,
    strict: bool,
    matrix_digest: str | None,
    matrix_public_key: Path | None,
    matrix_ca_bundle: Path | None,
    matrix_timeout: str,
    cluster: bool,
    contexts: tuple[str, ...],
    kubeconfig: Path | None,
    engagements_from_cluster: bool,
) -> None:
    """Evaluate manifests offline (or, with --cluster, live clusters, read-only), as the operator would.

    \b
    Exit codes: 0 Eligible, 1 Limited, 3 Ineligible, 4 invalid input (unreadable
    paths, a stream that is not YAML, malformed Kubernetes objects, nothing to
    check, invalid engagement or matrix, an unreachable cluster or context,
    refused credentials, a missing permission; never a crash), 2 usage error.
    Files that are not Kubernetes objects (values files, kustomize patches, CI
    configs, Helm templates) are skipped and counted. A ClusterVersion among the
    inputs gives --openshift-version when it is not set. Several clusters or
    engagements: the worst exit code.
    """
    from . import matrix_cli
    from .core.verdict.evaluation import Platform
    from .offline import check as check_report

    if cluster and paths:
        raise click.UsageError("give -f (manifests) or --cluster (live clusters), not both")
    if not cluster and not paths:
        raise click.UsageError("give -f PATH ('-' for standard input), or --cluster")
    if not cluster and (contexts or engagements_from_cluster):
        raise click.UsageError("--context and --engagements-from-cluster go with --cluster")
    if engagement and engagements_from_cluster:
        raise click.UsageError("give --engagement FILE or --engagements-from-cluster, not both")
    try:
        spec = check_report.load_engagement(engagement) if engagement else None
        compiled = matrix_cli.load_matrix(matrix, matrix_digest, matrix_public_key, matrix_ca_bundle, matrix_timeout)
        platform = Platform(kubernetes_version, openshift_version)
        if cluster:
            report = _check_clusters(
                contexts, kubeconfig, engagements_from_cluster, spec, compiled, matrix is not None, platform, output
            )
        else:
            result = check_report.check(paths, spec, compiled, platform, strict=strict)
            report = _report_of(result, output, str(engagement) if engagement else None)
    except check_report.InputError as exc:
        click.echo(f"error: {check_report.printable(str(exc))}", err=True)
        sys.exit(check_report.EXIT_INPUT_ERROR)
    except Exception as exc:  # last resort: a crash must never read as a verdict (exit 1 is Limited)
        click.echo(
            f"error: internal error, no verdict: {type(exc).__name__}: {check_report.printable(str(exc))}", err=True
        )
        sys.exit(check_report.EXIT_INPUT_ERROR)
    text, code, errors, line = report
    if code == check_report.EXIT_INPUT_ERROR and (output in ("sarif", "junit") or output_file is not None):
        # no verdict, no report: a pipeline must not upload an empty "all clear"; only the reasons
        click.echo(errors, err=True)
        sys.exit(code)
    if output_file is None:
        click.echo(text)
        sys.exit(code)
    try:
        output_file.write_text(text + "\n")
    except OSError as exc:
        click.echo(f"error: cannot write {output_file}: {exc.strerror or exc}", err=True)
        sys.exit(check_report.EXIT_INPUT_ERROR)
    click.echo(f"{line}; {output} report written to {output_file}")
    sys.exit(code)


def _report_of(result: Any, output: str, engagement_file: str | None) -> tuple[str, int, str, str]:
    """(report text, exit code, the input errors, the verdict's line) of one check of files."""
    from .offline import check as check_report
    from .offline import reports

    renderers = {
        "json": check_report.render_json,
        "table": check_report.render_table,
        "sarif": lambda r: reports.render_sarif(r, engagement_file),
        "junit": reports.render_junit,
    }
    line = f"Eligibility: {result.status.eligibility} ({check_report.printable(result.status.reason)})"
    return renderers[output](result), result.exit_code, check_report.render_errors(result), line


def _check_clusters(
    contexts: tuple[str, ...],
    kubeconfig: Path | None,
    from_cluster: bool,
    spec: Any,
    compiled: Any,
    matrix_given: bool,
    platform: Any,
    output: str,
) -> tuple[str, int, str, str]:
    """Scan each context read-only (the runtime's listing), judge each offline; one report for all.

    Engagements found in a cluster are judged against the matrices their matrixRefs name in that
    cluster, unless --matrix names one for all."""
    from .core.verdict.evaluation import Platform
    from .offline import check as check_report
    from .offline import clusters
    from .offline.cluster_matrices import ClusterMatrices
    from .runtime.scan import ScanError, scan_context

    verdicts = []
    for context in contexts or (None,):
        try:
            scanned = scan_context(
                str(kubeconfig) if kubeconfig else None,
                context,
                f"eligibility-operator/{__version__} (check --cluster)",
                engagements=from_cluster,
                matrices=from_cluster and not matrix_given,  # --matrix: the cluster's are not read
            )
        except ScanError as exc:
            raise check_report.InputError(str(exc)) from None
        found = Platform(  # versions given on the command line win; an unreadable ClusterVersion stays a problem
            platform.kubernetes or scanned.platform.kubernetes,
            platform.openshift or scanned.platform.openshift,
            None if platform.openshift else scanned.platform.openshift_problem,
        )
        verdicts += clusters.judge_cluster(
            scanned.context,
            scanned.workloads,
            scanned.namespace_labels,
            found,
            compiled,
            spec,
            scanned.engagements if from_cluster else None,
            None if matrix_given or not from_cluster else ClusterMatrices(scanned.matrices),
        )
    renderers = {
        "json": clusters.render_json,
        "table": clusters.render_table,
        "sarif": clusters.render_sarif_runs,
        "junit": clusters.render_junit_suites,
    }
    code = clusters.exit_code(verdicts)
    line = "; ".join(f"{v.label}: {v.result.status.eligibility}" for v in verdicts)
    errors = "\n".join(f"{v.label}: {check_report.render_errors(v.result)}" for v in verdicts if v.result.problems)
    return renderers[output](verdicts), code, errors, line


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
    from .core.verdict.evaluation import Platform
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
