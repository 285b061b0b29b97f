"""Which OLM findings count in one namespace, and with which version.

A package installed through OLM leaves several objects in its namespace: the Subscription (what a
GitOps repository holds), InstallPlans (one per install or upgrade step, old ones kept for a while)
and the ClusterServiceVersion (what runs). They are one installation, reported once per object that
a user would name, never as several versions:

- a Subscription's version is its ``status.installedCSV``; where it has none (a GitOps repository),
  an InstallPlan of the package in the namespace (the newest approved one), then a
  ClusterServiceVersion of it (or the Deployment OLM made from one) tell it, the newer of the two
  where both are there (an older InstallPlan is history); only then its own ``startingCSV`` (manual approval) or
  an unknown version with the reason. Where a ClusterServiceVersion of that very version runs, it
  alone reports the installation (an installation counts once, as its OLM Deployments do);
- an InstallPlan counts on its own only where neither a Subscription nor a running installation of
  the package is in the namespace, and then only the newest (older ones are history, not what runs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from .detection import Detection
from .workloads import CSV_KIND, WorkloadFacts

SUBSCRIPTION_VIA = "subscription"
INSTALL_PLAN_VIA = "installplan"
OLM_INTENTS = (SUBSCRIPTION_VIA, INSTALL_PLAN_VIA)


def _newer(candidate: Detection, best: Detection | None) -> bool:
    if best is None:
        return True
    if candidate.version is None:
        return False
    return best.version is None or candidate.version.core > best.version.core


class NamespaceOlm:
    """The OLM objects of one namespace's findings, to settle each Subscription's and InstallPlan's."""

    def __init__(self, found: Iterable[tuple[WorkloadFacts, list[Detection]]]) -> None:
        self.subscribed: set[str] = set()
        self.running: set[str] = set()  # products shown by something other than a chart or an OLM intent
        self.plans: dict[str, Detection] = {}  # product -> the newest InstallPlan finding
        self.installed: dict[str, Detection] = {}  # product -> the newest ClusterServiceVersion finding
        for facts, detections in found:
            for d in detections:
                if d.via == SUBSCRIPTION_VIA:
                    self.subscribed.add(d.product)
                elif d.via == INSTALL_PLAN_VIA:
                    if _newer(d, self.plans.get(d.product)):
                        self.plans[d.product] = d
                elif d.via != "chart":
                    self.running.add(d.product)
                    if d.version is not None and (facts.kind == CSV_KIND or d.installation):
                        installed = d if facts.kind != CSV_KIND else dataclasses.replace(d, source=f"{facts.ref}")
                        if _newer(installed, self.installed.get(d.product)):
                            self.installed[d.product] = installed

    def settled(self, detection: Detection) -> Detection | None:
        """``detection`` of a Subscription or InstallPlan as it counts here; None when it does not."""
        product = detection.product
        if detection.via == INSTALL_PLAN_VIA:
            if product in self.subscribed or product in self.running or self.plans.get(product) is not detection:
                return None
            return detection
        installed = self.installed.get(product)
        if not detection.open:
            settled = detection
        else:
            plan = self.plans.get(product)
            plan = plan if plan is not None and plan.version is not None else None
            # an InstallPlan older than the ClusterServiceVersion that runs is history: the newer tells
            better = installed if plan is None or (installed is not None and _newer(installed, plan)) else plan
            if better is None:
                return detection
            settled = dataclasses.replace(
                detection, version=better.version, source=better.source or better.via, reason="", action="", open=False
            )
        if installed is not None and settled.version is not None and installed.version == settled.version:
            return None  # the ClusterServiceVersion that runs reports this installation, once
        return settled
