"""``check``'s findings for tools: SARIF 2.1.0 (code scanning) and JUnit XML (test reports).

Both are built from one list of :class:`Finding`, taken from the status the operator's own ``assess``
wrote, so they say what the table and the JSON say. A finding is one code on one product version (or
the engagement); its locations are the workloads running that version, each with the file and the
line of the document that defines it (the status lists at most 20 workloads per version). SARIF has
one result per finding and workload, so that code scanning shows each where it is written; JUnit has
one testcase per finding, failed when the finding is what makes the version Ineligible or Limited.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree as ET

from .. import __version__
from ..api.models import ConditionStatus, ConditionType, Eligibility, ProductStatus
from ..core.verdict.findings import RULES, FindingCode, rule
from .check import CheckResult, printable
from .files import STDIN_NAME

FINDINGS_PAGE = (
    "https://github.com/stakater/eligibility-operator/blob/main/docs/reference/findings.md"  # mkdocs.yml repo_url
)
INFORMATION_URI = "https://github.com/stakater/eligibility-operator"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


@dataclass(frozen=True)
class Location:
    ref: str  # namespace/Kind/name
    file: str | None  # None: not read from a file (standard input has no path)
    line: int


@dataclass(frozen=True)
class Finding:
    code: FindingCode
    level: str  # SARIF level: error (makes it Ineligible), warning (Limited), note (does not count)
    subject: str  # "reloader 1.0.0", or "engagement"
    message: str
    locations: tuple[Location, ...] = field(default_factory=tuple)


def _level(code: FindingCode, product: ProductStatus | None, counted: bool) -> str:
    effect = rule(code).effect
    if effect is None or not counted:
        return "note"
    return "error" if effect == Eligibility.INELIGIBLE else "warning"


def _locations(product: ProductStatus, where: dict[str, tuple[str, int]]) -> tuple[Location, ...]:
    found = []
    for ref in product.workloads:
        file, line = where.get(ref, (None, 0))
        found.append(Location(ref, None if file in (None, STDIN_NAME) else file, line))
    return tuple(found)


def findings_of(result: CheckResult) -> list[Finding]:
    """Every finding of ``result``, products worst first as in the status, then the engagement's."""
    where: dict[str, tuple[str, int]] = {}
    for found in result.found:
        where.setdefault(found.facts.ref, (found.file, found.line))
    findings: list[Finding] = []
    for product in (*result.status.products, *result.status.uncovered_products):
        counted = product.eligibility not in (None, Eligibility.ELIGIBLE)
        subject = f"{product.product} {product.version}"
        owner = f" ({product.action_owner} action)" if product.action_owner else ""
        for code in product.codes or ():
            text = f"{subject}: {rule(code).name}{owner}: {product.reason}"
            findings.append(
                Finding(
                    FindingCode(code),
                    _level(FindingCode(code), product, counted),
                    subject,
                    text,
                    _locations(product, where),
                )
            )
    agreement = next((c for c in result.status.conditions if c.type == ConditionType.AGREEMENT_IN_FORCE), None)
    if result.engagement and agreement is not None:
        if agreement.status == ConditionStatus.FALSE:
            findings.append(Finding(FindingCode.AGREEMENT_NOT_IN_FORCE, "error", "engagement", agreement.message))
        elif agreement.reason == "ExpiresSoon":
            findings.append(Finding(FindingCode.AGREEMENT_EXPIRES_SOON, "note", "engagement", agreement.message))
    platform = result.status.platform
    if platform is not None and platform.action_owner is not None:
        text = f"{platform.release} {platform.lifecycle}" + (
            f", end of maintenance {platform.end_of_maintenance}" if platform.end_of_maintenance else ""
        )
        findings.append(Finding(FindingCode.PLATFORM_END_OF_MAINTENANCE, "note", "platform", text))
    return findings


# -------------------------------------------------------------------------- SARIF


def _sarif_rule(code: FindingCode) -> dict[str, Any]:
    r = RULES[code]
    level = {Eligibility.INELIGIBLE: "error", Eligibility.LIMITED: "warning"}.get(r.effect, "note")  # type: ignore[arg-type]
    return {
        "id": str(code),
        "name": r.name,
        "shortDescription": {"text": r.name},
        "fullDescription": {"text": r.meaning},
        "help": {"text": f"{r.action} Owner: {r.owner}"},
        "helpUri": f"{FINDINGS_PAGE}#{str(code).lower()}",
        "defaultConfiguration": {"level": level},
    }


def _sarif_location(location: Location | None, engagement_file: str | None) -> dict[str, Any]:
    loc: dict[str, Any] = {}
    file, line = (location.file, location.line) if location else (engagement_file, 1)
    if file:
        physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(file)}}
        if line > 0:
            physical["region"] = {"startLine": line}
        loc["physicalLocation"] = physical
    if location is not None:
        loc["logicalLocations"] = [{"fullyQualifiedName": location.ref, "kind": "resource"}]
    return loc


def _uri(path: str) -> str:
    """A relative path as a relative URI reference (what code scanning maps onto the repository); an
    absolute one as a ``file://`` URI."""
    if os.path.isabs(path):
        return Path(path).as_uri()
    path = path.replace(os.sep, "/")
    while path.startswith("./"):
        path = path[2:]
    return quote(path, safe="/")


def render_sarif(result: CheckResult, engagement_file: str | None = None) -> str:
    """SARIF 2.1.0: the finding codes as rules, one result per finding and workload."""
    findings = findings_of(result)
    codes = list(RULES)
    results = []
    for finding in findings:
        for location in finding.locations or (None,):
            entry: dict[str, Any] = {
                "ruleId": str(finding.code),
                "ruleIndex": codes.index(finding.code),
                "level": finding.level,
                "message": {"text": printable(finding.message)},
            }
            loc = _sarif_location(location, engagement_file)
            if loc:
                entry["locations"] = [loc]
            results.append(entry)
    run = {
        "tool": {
            "driver": {
                "name": "eligibility-operator",
                "version": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [_sarif_rule(code) for code in codes],
            }
        },
        "results": results,
        "properties": {"eligibility": str(result.status.eligibility), "reason": result.status.reason},
    }
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2)


# -------------------------------------------------------------------------- JUnit


def render_junit(result: CheckResult) -> str:
    """JUnit XML: one testcase per finding (failed when it makes a version Ineligible or Limited), and one
    passing testcase per product version without findings."""
    suite = ET.Element("testsuite", name="eligibility-operator check")
    failures = 0
    cases = 0
    for finding in findings_of(result):
        cases += 1
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"eligibility.{finding.code}",
            name=f"{finding.subject}: {rule(finding.code).name}",
        )
        where = ", ".join(f"{loc.ref} ({loc.file}:{loc.line})" if loc.file else loc.ref for loc in finding.locations)
        text = printable(finding.message) + (f"\nin {printable(where)}" if where else "")
        if finding.level in ("error", "warning"):
            failures += 1
            failure = ET.SubElement(case, "failure", message=printable(finding.message)[:1000], type=str(finding.code))
            failure.text = text
        else:
            ET.SubElement(case, "system-out").text = text
    for product in result.status.products:
        if not product.codes:
            cases += 1
            ET.SubElement(
                suite, "testcase", classname="eligibility.product", name=f"{product.product} {product.version}"
            )
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    root = ET.Element("testsuites", name="eligibility-operator", tests=str(cases), failures=str(failures))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
