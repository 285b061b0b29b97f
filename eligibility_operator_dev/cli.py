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
