"""OLM Subscriptions and InstallPlans: which operator package they install, and at which version.

On OpenShift a GitOps repository often holds only an OperatorGroup and a Subscription (package
``tenant-operator``): no workload, no ClusterServiceVersion. These functions turn a Subscription or
an InstallPlan into :class:`WorkloadFacts` with an :class:`OlmSource`, and say what each gives as
the version (:func:`claims`):

- a Subscription's ``status.installedCSV`` (a cluster dump, the running operator) is the version;
- with ``installPlanApproval: Manual``, ``startingCSV`` is the version (OLM upgrades nothing unapproved);
- with only ``startingCSV`` and automatic approval, the version is unknown: installed at least that,
  and OLM upgrades along the channel;
- an InstallPlan names the ClusterServiceVersions it installs (``spec.clusterServiceVersionNames``);
  one waiting for manual approval installs nothing yet.

Which of several OLM objects of one package counts in a namespace (installedCSV, then an InstallPlan,
then a ClusterServiceVersion) is :mod:`.olm_settle`. Fields that OLM's own schema refuses (a missing
package, an approval other than Automatic or Manual, a value of the wrong type) are input problems
of the object (``WorkloadFacts.problems``), never a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .workloads import OlmSource, WorkloadFacts, _labels, _mapping, _text

OLM_GROUP = "operators.coreos.com"
SUBSCRIPTION = "Subscription"
INSTALL_PLAN = "InstallPlan"
APPROVALS = ("Automatic", "Manual")
_MAX_CSVS = 32
SHOW_CSV = "show the installed ClusterServiceVersion"


def csv_parts(name: str | None) -> tuple[str, str | None]:
    """(package, version text) of a ClusterServiceVersion name ``<package>.v<version>``."""
    if not name:
        return "", None
    package, sep, version = name.partition(".v")
    return package, (version or None) if sep else None


def _string(spec: Mapping[str, Any], field: str, where: str, problems: list[str]) -> str | None:
    """``spec[field]`` when it is a non-empty string; a problem when it is present but something else."""
    value = spec.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problems.append(f"{where}.{field} is {value!r}, not a string"[:300])
        return None
    return _text(value)


def _approval(spec: Mapping[str, Any], field: str, where: str, problems: list[str]) -> str | None:
    approval = _string(spec, field, where, problems)
    if approval is not None and approval not in APPROVALS:
        problems.append(f"{where}.{field} {approval!r} is neither Automatic nor Manual")
    return approval


def _subscription(obj: Mapping[str, Any], problems: list[str]) -> OlmSource:
    raw_spec = obj.get("spec")
    if not isinstance(raw_spec, Mapping):
        problems.append("spec is missing or not a mapping: which operator it installs cannot be told")
    spec = _mapping(raw_spec)
    status = _mapping(obj.get("status"))
    package = _string(spec, "name", "spec", problems)
    if package is None and isinstance(raw_spec, Mapping):
        problems.append("spec.name (the package) is missing: which operator it installs cannot be told")
    return OlmSource(
        package=package,
        channel=_string(spec, "channel", "spec", problems),
        starting_csv=_string(spec, "startingCSV", "spec", problems),
        approval=_approval(spec, "installPlanApproval", "spec", problems),
        installed_csvs=tuple(c for c in (_string(status, "installedCSV", "status", problems),) if c),
    )


def _install_plan(obj: Mapping[str, Any], problems: list[str]) -> OlmSource:
    spec = _mapping(obj.get("spec"))
    names = spec.get("clusterServiceVersionNames")
    csvs: list[str] = []
    if not isinstance(names, list) or not names:
        problems.append("spec.clusterServiceVersionNames is missing: what it installs cannot be told")
    else:
        for name in names[:_MAX_CSVS]:
            text = _text(name)
            if text is None:
                problems.append(
                    f"spec.clusterServiceVersionNames holds {name!r}, not a ClusterServiceVersion name"[:300]
                )
            elif text not in csvs:
                csvs.append(text)
    approved = spec.get("approved")
    if approved is not None and not isinstance(approved, bool):
        problems.append(f"spec.approved is {approved!r}, not true or false"[:300])
        approved = None
    return OlmSource(
        package=None,
        approval=_approval(spec, "approval", "spec", problems),
        installed_csvs=tuple(csvs),
        approved=approved,
        phase=_text(_mapping(obj.get("status")).get("phase")),
    )


def olm_facts(obj: Mapping[str, Any], default_namespace: str = "default") -> WorkloadFacts | None:
    """Facts of an OLM Subscription or InstallPlan; None for anything else."""
    kind = obj.get("kind")
    api = obj.get("apiVersion")
    if kind not in (SUBSCRIPTION, INSTALL_PLAN) or not (isinstance(api, str) and api.startswith(OLM_GROUP + "/")):
        return None
    meta = _mapping(obj.get("metadata"))
    name = _text(meta.get("name"))
    if not name:
        return None
    problems: list[str] = []
    source = _subscription(obj, problems) if kind == SUBSCRIPTION else _install_plan(obj, problems)
    return WorkloadFacts(
        namespace=_text(meta.get("namespace")) or default_namespace,
        kind=str(kind),
        name=name,
        images=(),
        labels=_labels(_mapping(meta.get("labels"))),
        olm=source,
        problems=tuple(problems),
    )


@dataclass(frozen=True, slots=True)
class Claim:
    """One package an OLM object installs: the version text it gives, what gave it, or why none."""

    package: str
    version: str | None
    source: str
    reason: str = ""
    final: bool = True  # False: an InstallPlan or a ClusterServiceVersion of the package tells better


def _subscription_claim(facts: WorkloadFacts, olm: OlmSource) -> Claim | None:
    package = olm.package
    if not package:
        return None
    odd = "; ".join(p for p in facts.problems if "installPlanApproval" in p or "startingCSV" in p)
    channel = olm.channel or "the package's default channel"
    for installed in olm.installed_csvs:
        _, version = csv_parts(installed)
        if version:
            return Claim(package, version, "Subscription status.installedCSV")
        return Claim(package, None, "", f"status.installedCSV {installed!r} names no version", final=False)
    if odd:  # an approval or startingCSV OLM's schema refuses: what OLM does with it cannot be told
        return Claim(package, None, "", odd, final=False)
    if olm.starting_csv:
        start_package, version = csv_parts(olm.starting_csv)
        if not version or start_package != package:
            why = f"startingCSV {olm.starting_csv!r} is not a ClusterServiceVersion of package {package}"
            return Claim(package, None, "", why, final=False)
        if olm.approval == "Manual":
            return Claim(package, version, "Subscription startingCSV (manual approval)", final=False)
        return Claim(package, None, "", f"installed at least {version}; OLM upgrades along channel {channel}", False)
    return Claim(
        package,
        None,
        "",
        f"the Subscription names no version: OLM installs the newest along channel {channel}",
        final=False,
    )


def claims(facts: WorkloadFacts) -> list[Claim]:
    """The packages ``facts`` (a Subscription or InstallPlan) installs, each with its version or why none."""
    olm = facts.olm
    if olm is None:
        return []
    if facts.kind == SUBSCRIPTION:
        claim = _subscription_claim(facts, olm)
        return [claim] if claim else []
    if olm.approval == "Manual" and olm.approved is not True and olm.phase != "Complete":
        return []  # waiting for approval: nothing of it is installed yet
    found: dict[str, Claim] = {}
    for name in olm.installed_csvs:
        package, version = csv_parts(name)
        if package and package not in found:
            reason = "" if version else f"ClusterServiceVersion name {name!r} names no version"
            found[package] = Claim(package, version, f"InstallPlan {facts.name}", reason)
    return list(found.values())
