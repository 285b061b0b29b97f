"""``python -m eligibility_operator_dev``: control plane, cluster and demo commands for development."""

from __future__ import annotations

from pathlib import Path

import click

WORKDIR = click.option(
    "--dir", "workdir", type=click.Path(file_okay=False, path_type=Path), default=Path(".cluster"), show_default=True
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Development tooling for eligibility-operator (not shipped in the image)."""


@main.command("control-plane")
def control_plane() -> None:
    """Fetch etcd and build kube-apiserver into the cache (first run: a few minutes); print their paths."""
    from .controlplane import ensure_binaries

    click.echo(" ".join(str(p) for p in ensure_binaries()))


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
@WORKDIR
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait (first run builds kube-apiserver).")
def cluster_up(workdir: Path, timeout: float) -> None:
    """Start the control plane in the background, apply CRDs and the default matrix, print KUBECONFIG."""
    from .cluster import ClusterError
    from .cluster import cluster_up as up

    try:
        pid, reused = up(workdir, timeout)
    except ClusterError as exc:
        raise click.ClickException(str(exc)) from None
    if reused:
        click.echo("control plane already running; CRDs and default matrix applied")
    else:
        click.echo(f"control plane running (pid {pid}); CRDs and default matrix applied")
    click.echo(f"export KUBECONFIG={workdir.resolve() / 'kubeconfig'}")


@cluster.command("down")
@WORKDIR
def cluster_down(workdir: Path) -> None:
    """Stop the control plane started by ``cluster up`` and remove its directory."""
    from .cluster import cluster_down as down

    down(workdir)
    click.echo("control plane stopped")


@main.command()
@WORKDIR
@click.option("--once", is_flag=True, envvar="DEMO_ONCE", help="Exit after printing (also DEMO_ONCE=1).")
def demo(workdir: Path, once: bool) -> None:
    """Local control plane + samples + operator: an ineligible, then an eligible engagement."""
    from .demo import run_demo

    run_demo(workdir.resolve(), once)


@main.group()
def node() -> None:
    """A real one-node cluster (containerd, kubelet, kube-proxy + control plane); needs root."""


@node.command("up")
@click.option("--timeout", default=180.0, show_default=True, help="Seconds to wait for each stage.")
def node_up(timeout: float) -> None:
    """Build the operator image, start the node (or reuse it), wait for Ready; print KUBECONFIG."""
    from .node import NodeError, up

    try:
        kubeconfig = up(timeout)
    except NodeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"export KUBECONFIG={kubeconfig}")


@node.command("down")
def node_down() -> None:
    """Stop the node and remove everything it made on this machine (checked)."""
    from .node import NodeError, down

    try:
        down()
    except NodeError as exc:
        raise click.ClickException(str(exc)) from None


@node.command("status")
def node_status() -> None:
    """Exit 0 when every component runs; else list what is dead or left over."""
    from .node import dead_components, running, stale

    if running():
        click.echo("node running")
        return
    problems = dead_components() if stale() else ["no node"]
    raise click.ClickException("\n".join(problems))
