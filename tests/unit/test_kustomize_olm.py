"""kustomize ``helmCharts:`` entries, OLM Subscriptions and InstallPlans, and a Flux Kustomization's
``targetNamespace``, on inputs of our own (the real-world forms are in test_realworld.py): they
identify the product, give the version (or say why not, and who acts), and odd fields are input
problems of the object, never a crash and never a silent pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from eligibility_operator.api.models import Eligibility, Party, SupportEngagementSpec
from eligibility_operator.core.products.detection import detect
from eligibility_operator.core.products.gitops import kustomize_facts, retarget
from eligibility_operator.core.products.inventory import Inventory
from eligibility_operator.core.products.objects import facts_of
from eligibility_operator.core.products.workloads import ChartSource, WorkloadFacts
from eligibility_operator.offline.check import CheckResult, check
from eligibility_operator.runtime.kube.wire import Decoder

from ..builders import TODAY, default_compiled, engagement_spec
from ..builders import manifest as workload

MATRIX = default_compiled()
SPEC = SupportEngagementSpec.model_validate(engagement_spec())
STAKATER = "https://stakater.github.io/stakater-charts"
OLM = "operators.coreos.com/v1alpha1"
MTO = "multi-tenant-operator"


def run_check(tmp_path: Path, files: dict[str, Any]) -> CheckResult:
    for name, docs in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            docs if isinstance(docs, str) else yaml.safe_dump_all(docs if isinstance(docs, list) else [docs])
        )
    return check([tmp_path], SPEC, MATRIX, today=TODAY)


def products(result: CheckResult) -> list[tuple[str, str, list[str]]]:
    return [(p.product, p.version, p.workloads) for p in result.status.products]


# ------------------------------------------------------------------ kustomize helmCharts


def kustomization(*charts: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "helmCharts": list(charts), **top}


def test_helm_charts_entry_is_a_chart_source_like_flux_and_argo(tmp_path: Path) -> None:
    chart = {"name": "reloader", "repo": STAKATER, "version": "1.0.69", "releaseName": "reloader"}
    result = run_check(tmp_path, {"reloader/kustomization.yaml": kustomization(chart, namespace="tools")})
    assert products(result) == [("reloader", "1.0.69", ["tools/Kustomization/reloader"])]
    [product] = result.status.products
    assert (product.lifecycle, product.eligibility, product.action_owner) == ("EndOfLife", "Ineligible", "Customer")
    assert product.version_source == "chart reloader 1.0.69"
    assert result.exit_code == 3  # the false green of the issue: an end-of-life Reloader, now Ineligible


def test_helm_charts_without_apiversion_and_kind_and_chart_2x_and_oci_and_values(tmp_path: Path) -> None:
    text = (
        "namespace: reloader\n"
        "helmGlobals:\n  chartHome: charts\n"
        "helmCharts:\n"
        "- name: reloader\n  repo: oci://ghcr.io/stakater/charts\n  version: 2.2.16\n"
        "  valuesInline:\n    image:\n      tag: v1.4.19\n"
    )
    result = run_check(tmp_path, {"base/kustomization.yaml": text})
    assert result.problems == []
    assert products(result) == [("reloader", "1.4.19", ["reloader/Kustomization/base"])]


def test_helm_charts_repo_must_be_one_of_the_products_repositories() -> None:
    other = kustomization({"name": "reloader", "repo": "https://charts.external-secrets.io", "version": "0.0.5"})
    [facts] = kustomize_facts(other, "eso")
    assert detect(MATRIX, facts) == []
    local = kustomization({"name": "reloader", "version": "2.2.16"})  # no repo: a chart under helmGlobals.chartHome
    [facts] = kustomize_facts(local, "vendored")
    assert [(d.product, d.version_text) for d in detect(MATRIX, facts)] == [("reloader", "1.4.21")]


def test_helm_charts_without_a_version_is_the_newest_chart_and_the_customer_pins_it(tmp_path: Path) -> None:
    result = run_check(tmp_path, {"kustomization.yaml": kustomization({"name": "reloader", "repo": STAKATER})})
    [product] = result.status.products
    assert (product.version, product.lifecycle, product.eligibility, product.action_owner) == (
        "Unknown",
        "Unknown",
        "Limited",
        "Customer",
    )
    assert "newest" in (product.reason or "")
    assert "customer action: pin the chart version of reloader" in result.status.reason or any(
        "pin the chart version of reloader" in c.message for c in result.status.conditions
    )
    assert result.exit_code == 3  # never silently Eligible (its only product is not eligible)


def test_helm_charts_entries_install_into_their_own_namespaces() -> None:
    doc = kustomization(
        {"name": "reloader", "repo": STAKATER, "version": "2.2.16", "namespace": "reloader"},
        {"name": "forecastle", "repo": STAKATER, "version": "1.5.0"},
        namespace="platform",
    )
    facts = kustomize_facts(doc, "dir")
    assert [(f.namespace, [c.chart for c in f.charts]) for f in facts] == [
        ("platform", ["forecastle"]),
        ("reloader", ["reloader"]),
    ]
    assert kustomize_facts({"resources": ["a.yaml"]}, "dir") == []  # a kustomization without charts


@pytest.mark.parametrize(
    ("charts", "problem"),
    [
        ("reloader", "helmCharts is a str, not a list of charts"),
        (["reloader"], "helmCharts[0] is a str, not a chart entry"),
        ([{"repo": STAKATER, "version": "2.2.16"}], "helmCharts[0] has no name"),
        (
            [{"name": "reloader", "repo": STAKATER, "version": 1.1}],
            "helmCharts[0].version is 1.1 (float), not a string",
        ),
        ([{"name": "reloader", "repo": 7, "version": "2.2.16"}], "helmCharts[0].repo is 7 (int), not a string"),
        ([{"name": ["reloader"], "version": "2.2.16"}], "helmCharts[0].name is ['reloader'] (list), not a string"),
    ],
)
def test_odd_helm_charts_entries_are_input_problems_of_that_object(tmp_path: Path, charts: Any, problem: str) -> None:
    doc = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "helmCharts": charts}
    result = run_check(tmp_path, {"apps/kustomization.yaml": doc})
    assert result.exit_code == 4  # an input error, never a verdict
    assert any(p.error.startswith("default/Kustomization/apps: " + problem) for p in result.problems), result.problems


def test_a_bad_entry_does_not_hide_the_good_one(tmp_path: Path) -> None:
    doc = kustomization({"name": "reloader", "repo": STAKATER, "version": "1.0.69"}, {"version": "1"})
    result = run_check(tmp_path, {"kustomization.yaml": doc})
    assert [(p.product, p.version) for p in result.status.products] == [("reloader", "1.0.69")]
    assert len(result.problems) == 1 and result.exit_code == 4


# ------------------------------------------------------------------ OLM Subscription / InstallPlan


def subscription(
    starting: Any = "tenant-operator.v1.8.0",
    approval: str | None = "Automatic",
    installed: str | None = None,
    package: Any = "tenant-operator",
    name: str = "tenant-operator",
) -> dict[str, Any]:
    spec: dict[str, Any] = {"channel": "stable", "name": package, "source": "certified-operators"}
    spec["sourceNamespace"] = "openshift-marketplace"
    if starting is not None:
        spec["startingCSV"] = starting
    if approval is not None:
        spec["installPlanApproval"] = approval
    body: dict[str, Any] = {"apiVersion": OLM, "kind": "Subscription", "metadata": {"name": name, "namespace": MTO}}
    body["spec"] = spec
    if installed is not None:
        body["status"] = {"installedCSV": installed, "currentCSV": installed}
    return body


def install_plan(name: str, *csvs: str, approval: str = "Automatic", approved: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": OLM,
        "kind": "InstallPlan",
        "metadata": {"name": name, "namespace": MTO},
        "spec": {"clusterServiceVersionNames": list(csvs), "approval": approval, "approved": approved},
    }


def csv(version: str) -> dict[str, Any]:
    return {
        "apiVersion": OLM,
        "kind": "ClusterServiceVersion",
        "metadata": {"name": f"tenant-operator.v{version}", "namespace": MTO},
        "spec": {"version": version},
    }


def found(*objects: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(workload, version, what gave it or why not) as the inventory reports them, as the operator would."""
    inventory = Inventory()
    inventory.set_matrix(MATRIX)
    for obj in objects:
        facts = facts_of(obj)
        assert facts is not None
        inventory.upsert(facts)
    return sorted((ref, d.version_text, d.source or d.reason) for ref, d in inventory.found_in(MATRIX.name))


SUB = f"{MTO}/Subscription/tenant-operator"


def test_subscription_version_from_installed_csv_then_manual_starting_csv() -> None:
    assert found(subscription(installed="tenant-operator.v1.9.0")) == [
        (SUB, "1.9.0", "Subscription status.installedCSV")
    ]
    assert found(subscription(approval="Manual")) == [(SUB, "1.8.0", "Subscription startingCSV (manual approval)")]


def test_subscription_with_only_starting_csv_and_automatic_approval_is_unknown(tmp_path: Path) -> None:
    reason = "installed at least 1.8.0; OLM upgrades along channel stable"
    assert found(subscription()) == [(SUB, "Unknown", reason)]
    assert found(subscription(approval=None)) == [(SUB, "Unknown", reason)]  # Automatic is OLM's default
    result = run_check(tmp_path, {"mto/subscription.yaml": subscription()})
    [product] = result.status.products
    assert (product.product, product.version, product.eligibility, product.action_owner) == (
        MTO,
        "Unknown",
        Eligibility.LIMITED,
        Party.CUSTOMER,
    )
    assert reason in (product.reason or "")
    eligible = next(c for c in result.status.conditions if c.type == "Eligible")
    assert "customer action: show the installed ClusterServiceVersion of multi-tenant-operator" in eligible.message
    assert result.exit_code == 3  # its only product is not eligible


def test_subscription_without_a_version_is_unknown_and_other_packages_are_not_products() -> None:
    [(_, version, reason)] = found(subscription(starting=None))
    assert (version, reason) == (
        "Unknown",
        "the Subscription names no version: OLM installs the newest along channel stable",
    )
    assert found(subscription(package="cert-manager", starting="cert-manager.v1.14.0")) == []


def test_subscription_version_then_install_plan_then_csv() -> None:
    plans = (install_plan("install-a", "tenant-operator.v1.8.0"), install_plan("install-b", "tenant-operator.v1.9.0"))
    # an InstallPlan of the package tells the version of a Subscription that shows none; old plans are history
    assert found(subscription(), *plans) == [(SUB, "1.9.0", "InstallPlan install-b")]
    # then a ClusterServiceVersion of the package: it runs, and alone reports the installation (counted once)
    csv_ref = f"{MTO}/ClusterServiceVersion/tenant-operator.v1.9.1"
    assert found(subscription(), csv("1.9.1")) == [(csv_ref, "1.9.1", "ClusterServiceVersion")]
    assert found(subscription(installed="tenant-operator.v1.9.1"), csv("1.9.1")) == [
        (csv_ref, "1.9.1", "ClusterServiceVersion")
    ]
    # an InstallPlan older than the running CSV is history; a newer one is an upgrade on its way
    assert found(subscription(), csv("1.9.1"), plans[1]) == [(csv_ref, "1.9.1", "ClusterServiceVersion")]
    newer = install_plan("install-c", "tenant-operator.v1.9.2")
    assert found(subscription(), csv("1.9.1"), newer) == [
        (csv_ref, "1.9.1", "ClusterServiceVersion"),
        (SUB, "1.9.2", "InstallPlan install-c"),
    ]
    # mid-upgrade (installedCSV already the next one): both versions show
    assert found(subscription(installed="tenant-operator.v1.9.2"), csv("1.9.1")) == [
        (csv_ref, "1.9.1", "ClusterServiceVersion"),
        (SUB, "1.9.2", "Subscription status.installedCSV"),
    ]
    # status.installedCSV first, whatever InstallPlans remain
    assert found(subscription(installed="tenant-operator.v1.9.0"), install_plan("old", "tenant-operator.v1.6.0")) == [
        (SUB, "1.9.0", "Subscription status.installedCSV")
    ]
    # InstallPlan before the manual startingCSV: an approved upgrade moved it on
    assert found(subscription(approval="Manual"), install_plan("up", "tenant-operator.v1.9.0", approval="Manual")) == [
        (SUB, "1.9.0", "InstallPlan up")
    ]


def test_install_plans_alone_count_once_and_a_pending_one_installs_nothing() -> None:
    plans = (install_plan("install-a", "tenant-operator.v1.8.0"), install_plan("install-b", "tenant-operator.v1.9.0"))
    assert found(*plans) == [(f"{MTO}/InstallPlan/install-b", "1.9.0", "InstallPlan install-b")]
    pending = install_plan("install-c", "tenant-operator.v1.9.1", approval="Manual", approved=False)
    assert found(pending) == []
    assert found(install_plan("deps", "cert-manager.v1.14.0", "tenant-operator.v1.9.0")) == [
        (f"{MTO}/InstallPlan/deps", "1.9.0", "InstallPlan deps")
    ]
    assert found(csv("1.9.1"), *plans) == [
        (f"{MTO}/ClusterServiceVersion/tenant-operator.v1.9.1", "1.9.1", "ClusterServiceVersion")
    ]


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        ({"apiVersion": OLM, "kind": "Subscription", "metadata": {"name": "s", "namespace": MTO}}, "spec is missing"),
        (subscription(package=None), "spec.name (the package) is missing"),
        (subscription(package=["tenant-operator"]), "spec.name is ['tenant-operator'], not a string"),
        (subscription(approval="automatic"), "spec.installPlanApproval 'automatic' is neither Automatic nor Manual"),
        (subscription(starting=7), "spec.startingCSV is 7, not a string"),
        ({**install_plan("p"), "spec": {}}, "spec.clusterServiceVersionNames is missing"),
        (install_plan("p", 5), "spec.clusterServiceVersionNames holds 5"),  # type: ignore[arg-type]
        (
            {
                **install_plan("p", "tenant-operator.v1.9.0"),
                "spec": {"clusterServiceVersionNames": ["tenant-operator.v1.9.0"], "approved": "yes"},
            },
            "spec.approved is 'yes', not true or false",
        ),
    ],
)
def test_odd_olm_objects_are_input_problems_of_that_object(tmp_path: Path, obj: dict[str, Any], problem: str) -> None:
    result = run_check(tmp_path, {"olm.yaml": obj})
    assert result.exit_code == 4
    name = obj["metadata"]["name"]
    assert any(p.error.startswith(f"{MTO}/{obj['kind']}/{name}: {problem}") for p in result.problems), result.problems


def test_an_odd_approval_never_passes_silently_in_the_cluster() -> None:
    # the running operator has no input errors: the product's version is Unknown with the reason
    [(_, version, reason)] = found(subscription(approval="Sometimes"))
    assert (version, reason) == ("Unknown", "spec.installPlanApproval 'Sometimes' is neither Automatic nor Manual")
    # with the installed CSV shown, the version is known whatever the approval says
    assert found(subscription(approval="Sometimes", installed="tenant-operator.v1.9.0"))[0][1] == "1.9.0"
    [(_, version, reason)] = found(subscription(starting=7))
    assert (version, reason) == ("Unknown", "spec.startingCSV is 7, not a string")
    [(_, version, reason)] = found(subscription(starting="tenant-operator-1.8.0"))
    assert version == "Unknown" and "not a ClusterServiceVersion of package tenant-operator" in reason


def test_the_watch_decoder_reads_subscriptions_and_install_plans_as_check_does() -> None:
    for obj, plural in (
        (subscription(installed="tenant-operator.v1.9.0"), "Subscription"),
        (install_plan("p", "tenant-operator.v1.9.0"), "InstallPlan"),
    ):
        item = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
        page = Decoder(OLM, plural).page(json.dumps({"metadata": {"resourceVersion": "1"}, "items": [item]}).encode())
        assert page.items[0].facts == facts_of(obj)


# ------------------------------------------------------------------ Flux Kustomization targetNamespace


def test_flux_target_namespace_applies_to_the_objects_under_its_path(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    flux = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "spec": {
            "path": "./apps/reloader",
            "targetNamespace": "reloader",
            "sourceRef": {"kind": "GitRepository", "name": "x"},
        },
    }
    source = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": {"name": "stakater"},
        "spec": {"url": STAKATER},
    }
    release = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "reloader"},
        "spec": {
            "chart": {
                "spec": {
                    "chart": "reloader",
                    "version": "2.2.16",
                    "sourceRef": {"kind": "HelmRepository", "name": "stakater"},
                }
            }
        },
    }
    outside = workload("stakater/forecastle:v2.0.1", name="forecastle")
    result = run_check(
        tmp_path,
        {
            "clusters/prod/apps.yaml": flux,
            "apps/reloader/release.yaml": [source, release],
            "apps/reloader/deploy.yaml": workload("ghcr.io/stakater/reloader:v1.4.21", name="reloader"),
            "apps/forecastle/deploy.yaml": outside,
        },
    )
    assert result.problems == []
    assert products(result) == [
        ("forecastle", "2.0.1", ["team-a/Deployment/forecastle"]),  # not under the path: as written
        ("reloader", "1.4.21", ["reloader/Deployment/reloader"]),  # the HelmRelease's finding yields to it
    ]


def test_retarget_moves_the_object_and_keeps_a_release_s_own_target() -> None:
    chart = ChartSource(chart=None, version=None, source=("OCIRepository", "default", "reloader"))
    facts = WorkloadFacts("default", "HelmRelease", "r", (), (), charts=(chart,))
    moved = retarget(facts, "tools")
    assert (moved.ref, moved.namespace, moved.charts[0].source) == (
        "tools/HelmRelease/r",
        "tools",
        ("OCIRepository", "tools", "reloader"),
    )
    own = WorkloadFacts("apps", "HelmRelease", "r", (), (), charts=(chart,), source_namespace="default")
    moved = retarget(own, "tools")
    assert (moved.ref, moved.namespace) == ("tools/HelmRelease/r", "apps")


def test_flux_sources_under_the_path_move_with_the_releases_that_use_them(tmp_path: Path) -> None:
    flux: dict[str, Any] = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "spec": {"path": "apps", "targetNamespace": "tools"},
    }
    oci = {
        "apiVersion": "source.toolkit.fluxcd.io/v1beta2",
        "kind": "OCIRepository",
        "metadata": {"name": "reloader", "namespace": "default"},
        "spec": {"url": "oci://ghcr.io/stakater/charts/reloader", "ref": {"tag": "2.2.16"}},
    }
    release = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "reloader"},
        "spec": {"chartRef": {"kind": "OCIRepository", "name": "reloader"}},
    }
    # no .git: the path is found beside the Kustomization's directory's ancestors
    result = run_check(tmp_path, {"flux/apps.yaml": flux, "apps/reloader.yaml": [oci, release]})
    assert products(result) == [("reloader", "1.4.21", ["tools/HelmRelease/reloader"])]
    # a path that is not in the input changes nothing
    flux["spec"]["path"] = "./elsewhere"
    result = run_check(tmp_path, {"flux/apps.yaml": flux})
    assert products(result) == [("reloader", "1.4.21", ["default/HelmRelease/reloader"])]


# ------------------------------------------------------------------ any shape: never a crash

ANY = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["tenant-operator", "tenant-operator.v1.9.0", "Manual", "Automatic", "reloader", "2.2.16"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
FIELDS = ("name", "channel", "startingCSV", "installPlanApproval", "clusterServiceVersionNames", "approved", "approval")


@settings(database=None, deadline=None, max_examples=150)
@given(
    kind=st.sampled_from(["Subscription", "InstallPlan", "Kustomization"]),
    spec=st.one_of(ANY, st.dictionaries(st.sampled_from(FIELDS), ANY, max_size=5)),
    charts=ANY,
    status=ANY,
)
def test_any_shape_of_these_objects_is_read_without_a_crash(kind: str, spec: Any, charts: Any, status: Any) -> None:
    api = "kustomize.config.k8s.io/v1beta1" if kind == "Kustomization" else OLM
    obj = {"apiVersion": api, "kind": kind, "metadata": {"name": "x", "namespace": MTO}, "spec": spec}
    obj |= {"status": status, "helmCharts": charts}
    for facts in [f for f in (facts_of(obj),) if f] + kustomize_facts(obj, "dir"):
        assert all(isinstance(p, str) and p for p in facts.problems)
        inventory = Inventory()
        inventory.set_matrix(MATRIX)
        inventory.upsert(facts)
        list(inventory.found_in(MATRIX.name))
