"""``make demo``: the operator's main job on the embedded local control plane.

Starts (or reuses) the local control plane, applies the CRDs, the default
matrix and the samples under ``deploy/samples``, runs the operator as users do
(``eligibility-operator run``), prints the engagement in Limited Support while
an end-of-life version runs beside supported products, upgrades that workload and
prints it again, Eligible; a second sample engagement whose agreement has expired
stays Ineligible throughout. Two sample SupportRequests are triaged on the way: an
in-scope P1 against the end-of-life Reloader ("upgrade first", Eligible after the
upgrade) and a security assessment, excluded and routed to Professional Services.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from .cluster import cluster_down, cluster_up
from .controlplane import free_port

SAMPLES = Path("deploy/samples")
ENGAGEMENT = ("platform", "acme-platform")
EXPIRED = ("platform", "acme-2025")
WEBHOOK_CONFIG = "eligibility-operator-demo"


class Demo:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.kubeconfig = workdir / "kubeconfig"
        self.operator: subprocess.Popen[bytes] | None = None

    def kubectl(self, *args: str, input: str | None = None) -> str:
        result = subprocess.run(
            ["kubectl", "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise click.ClickException(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def engagement(self, which: tuple[str, str] = ENGAGEMENT) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.kubectl("get", "se", which[1], "-n", which[0], "-o", "json"))
        return data

    def start_operator(self, metrics_port: int, webhook_port: int) -> None:
        log = open(self.workdir / "operator.log", "ab")  # noqa: SIM115 - handed to the child
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        webhook = [
            "--webhook-port",
            str(webhook_port),
            "--webhook-self-signed",
            "127.0.0.1",
            "--webhook-manage-config",
            WEBHOOK_CONFIG,
        ]
        self.operator = subprocess.Popen(
            [sys.executable, "-m", "eligibility_operator.cli", "run", "--metrics-port", str(metrics_port), *webhook],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()

    def stop_operator(self) -> None:
        if self.operator and self.operator.poll() is None:
            self.operator.terminate()
            try:
                self.operator.wait(15)
            except subprocess.TimeoutExpired:
                self.operator.kill()

    def wait_for(self, eligibility: str, timeout: float = 60, which: tuple[str, str] = ENGAGEMENT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.operator is not None and self.operator.poll() is not None:
                raise click.ClickException(f"the operator exited; see {self.workdir / 'operator.log'}")
            body = self.engagement(which)
            if (body.get("status") or {}).get("eligibility") == eligibility:
                return body
            time.sleep(0.3)
        raise click.ClickException(f"engagement did not become {eligibility} within {timeout}s")

    def refused_apply(self) -> None:
        """Switch the engagement to Enforce and show the admission webhook refusing an end-of-life version."""
        click.echo(click.style("== spec.enforcement.mode: Enforce, then apply Reloader v1.2.0 ==", bold=True))
        patch = '{"spec": {"enforcement": {"mode": "Enforce"}}}'
        self.kubectl("patch", "se", ENGAGEMENT[1], "-n", ENGAGEMENT[0], "--type=merge", "-p", patch)
        argv = [
            "kubectl",
            "--kubeconfig",
            str(self.kubeconfig),
            "create",
            "deployment",
            "another-reloader",
            "-n",
            "shop",
            "--image=stakater/reloader:v1.2.0",
        ]
        deadline = time.monotonic() + 30
        while True:  # the webhook applies the new mode once the operator has seen the patched engagement
            result = subprocess.run([*argv, "--dry-run=server"], capture_output=True, text=True, check=False)
            if "denied" in result.stderr or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        click.echo("$ kubectl create deployment another-reloader -n shop --image=stakater/reloader:v1.2.0")
        click.echo((result.stdout + result.stderr).strip() + "\n")
        self.kubectl(
            "patch",
            "se",
            ENGAGEMENT[1],
            "-n",
            ENGAGEMENT[0],
            "--type=merge",
            "-p",
            '{"spec": {"enforcement": {"mode": "Warn"}}}',
        )

    def wait_for_request(self, name: str, reason: str, timeout: float = 60) -> dict[str, Any]:
        """Wait until SupportRequest ``name`` (namespace platform) is triaged with Eligible reason ``reason``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body: dict[str, Any] = json.loads(self.kubectl("get", "sr", name, "-n", "platform", "-o", "json"))
            conditions = {c["type"]: c for c in (body.get("status") or {}).get("conditions", [])}
            if conditions.get("Eligible", {}).get("reason") == reason:
                return body
            time.sleep(0.3)
        raise click.ClickException(f"SupportRequest {name} was not triaged ({reason}) within {timeout}s")

    def show_requests(self, *bodies: dict[str, Any]) -> None:
        click.echo("$ kubectl get sr -A")
        click.echo(self.kubectl("get", "sr", "-A"))
        for body in bodies:
            status = body.get("status") or {}
            spec = body.get("spec") or {}
            click.echo(
                f"Triage of {body['metadata']['name']} ({spec.get('category')}, proposed {spec.get('severity')}):"
            )
            click.echo(f"  {status.get('scope')} -> {status.get('route')}: {status.get('reason', '')}")
            severity = status.get("severity") or {}
            click.echo(f"  severity: proposed {severity.get('proposed')}, suggested {severity.get('suggested')}")
            response = status.get("firstResponse")
            if response:
                click.echo(f"  first response: {response['target']}, due {response.get('due', '-')}")
            for p in status.get("products", []):
                click.echo(f"  {p['product']} {p['version']}: {p.get('eligibility', '-')}; {p.get('note', '')}")
            if status.get("missingInformation"):
                click.echo("  missing: " + "; ".join(status["missingInformation"]))
            click.echo("  next:")
            for r in status.get("responsibilities", []):
                click.echo(f"    {r['owner']:<9} {r['item']}")
        click.echo("")

    def show(self, body: dict[str, Any], table: bool = True) -> None:
        if table:
            click.echo("$ kubectl get se -A -o wide")
            click.echo(self.kubectl("get", "se", "-A", "-o", "wide"))
        status = body.get("status") or {}
        meta = body.get("metadata") or {}
        click.echo(f"Conditions of {meta.get('namespace')}/{meta.get('name')}:")
        for c in status.get("conditions", []):
            click.echo(f"  {c['type']:<19} {c['status']:<7} {c['reason']}: {c.get('message', '')}")
        if not table:
            click.echo("")
            return
        click.echo("Products (product, edition, version, lifecycle, eligibility, action owner, workloads):")
        for p in status.get("products", []):
            click.echo(
                f"  {p['product']:<25} {p.get('edition', '-'):<10} {p['version']:<8} {p['lifecycle']:<10} "
                f"{p.get('eligibility', '-'):<10} {p.get('actionOwner', '-'):<9} {', '.join(p.get('workloads', []))}"
            )
        for p in status.get("uncoveredProducts", []):
            click.echo(
                f"  {p['product']:<25} {p.get('edition', '-'):<10} {p['version']:<8} {'uncovered':<10} "
                f"{'-':<10} {'-':<9} {', '.join(p.get('workloads', []))}"
            )
        owner: dict[str, Any] = next(
            (r for r in status.get("responsibilities", []) if r["item"] == "Maintaining supported versions"), {}
        )
        click.echo(f"Maintaining supported versions: {owner.get('owner', '?')}")
        credits = status.get("serviceCredits", {})
        click.echo(f"Service credits apply: {credits.get('applicable')} ({credits.get('reason', '')})\n")


def run_demo(workdir: Path, once: bool) -> None:
    if not SAMPLES.is_dir():
        raise click.ClickException(f"run the demo from the repository root ({SAMPLES} not found)")
    cluster_up(workdir)
    demo = Demo(workdir)
    demo.kubectl("apply", "-f", str(SAMPLES / "namespaces.yaml"))
    demo.kubectl("apply", "-f", str(SAMPLES / "workloads.yaml"))
    demo.kubectl("apply", "-f", str(SAMPLES / "engagement.yaml"), "-f", str(SAMPLES / "engagement-expired.yaml"))
    demo.kubectl("apply", "-f", str(SAMPLES / "requests.yaml"))
    # Start from the sample's end-of-life Reloader, also when the demo runs a second time.
    demo.kubectl("set", "image", "-n", "shop", "deployment/legacy-reloader", "reloader=stakater/reloader:v1.2.0-ubi")
    port = free_port()
    demo.start_operator(port, free_port())
    try:
        click.echo(click.style("\n== An end-of-life Reloader in a covered namespace: Limited Support ==", bold=True))
        demo.show(demo.wait_for("Limited"))
        click.echo(click.style("== The former contract, whose agreement expired on 2026-06-30 ==", bold=True))
        demo.show(demo.wait_for("Ineligible", which=EXPIRED), table=False)
        click.echo(click.style("== Two support requests, triaged before a ticket is opened ==", bold=True))
        demo.show_requests(
            demo.wait_for_request("reloader-not-reloading", "UpgradeFirst"),
            demo.wait_for_request("pen-test", "NoProductAffected"),
        )
        click.echo(click.style("== kubectl set image ... reloader=stakater/reloader:v1.4.21 ==", bold=True))
        started = time.monotonic()
        demo.kubectl("set", "image", "-n", "shop", "deployment/legacy-reloader", "reloader=stakater/reloader:v1.4.21")
        body = demo.wait_for("Eligible")
        click.echo(f"(status followed the upgrade in {time.monotonic() - started:.1f} s; Eligible)\n")
        demo.show(body)
        click.echo("The P1 request, triaged again after the upgrade:")
        demo.wait_for_request("reloader-not-reloading", "Eligible")
        click.echo(demo.kubectl("get", "sr", "reloader-not-reloading", "-n", "platform"))
        demo.refused_apply()
        click.echo(f"Metrics: http://127.0.0.1:{port}/metrics  (health: /healthz, readiness: /readyz)")
        click.echo(f"Operator log: {workdir / 'operator.log'}")
        click.echo(f"export KUBECONFIG={demo.kubeconfig}")
        if once:
            return
        click.echo("Operator running; try `kubectl get se -A -w` in another shell. Ctrl-C to stop.")
        assert demo.operator is not None
        demo.operator.wait()
    except KeyboardInterrupt:
        pass
    finally:
        demo.stop_operator()
        cluster_down(workdir)
