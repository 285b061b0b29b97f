"""Property tests: the parsers and detection never raise, whatever they are fed."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from eligibility_operator.api.models import (
    Edition,
    Eligibility,
    Lifecycle,
    Party,
    ProductStatus,
    SupportEngagementSpec,
)
from eligibility_operator.core.compat.images import ImageRef, parse_image
from eligibility_operator.core.compat.matrix import load_matrix
from eligibility_operator.core.compat.versions import Version, parse_version
from eligibility_operator.core.products.detection import Detection, detect
from eligibility_operator.core.products.workloads import CSV_KIND, WORKLOAD_KINDS, WorkloadFacts, facts_from_object
from eligibility_operator.core.verdict.evaluation import Platform, evaluate, reduce_eligibility

from ..builders import TODAY, days, default_compiled, engagement_spec, small_matrix_spec

# No example database: nothing is written outside tests/unit, and runs are independent.
quick = settings(database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DEFAULT = default_compiled()
SMALL = load_matrix("small", 1, small_matrix_spec())
TAG = re.compile(r"^[\w][\w.-]{0,127}$")

# ------------------------------------------------------------------ strategies

SEGMENT = st.from_regex(r"\A[a-z0-9]{1,8}(?:[._-][a-z0-9]{1,8}){0,2}\Z")
REGISTRY = st.sampled_from(
    [None, "ghcr.io", "docker.io", "quay.io", "registry.example.internal:5000", "localhost", "localhost:5000"]
)
IMAGE_TAG = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z")
DIGEST = st.from_regex(r"\A[0-9a-f]{64}\Z").map(lambda h: f"sha256:{h}")

INTERESTING_IMAGES = st.sampled_from(
    [
        "ghcr.io/stakater/reloader:v1.4.21",
        "stakater/reloader:v1.4.21-ubi",
        "ghcr.io/stakater/reloader-enterprise:v1.4.16",
        "registry.example.internal:5000/mirror/stakater/reloader:v1.4.21",
        "stakater/forecastle@sha256:" + "ab" * 32,
        "ghcr.io/stakater/ingressmonitorcontroller:2.2.12",
        "stakater/konfigurator:latest",
        "ghcr.io/stakater/public/mto/tenant-operator:v1.9.0",
        "stakater/reloader",
        "nginx",
        "",
        "@",
        ":",
        "/",
        "//:@",
    ]
)
IMAGE_LIKE = st.one_of(
    INTERESTING_IMAGES,
    st.text(alphabet="abcstakerlod019:/@.-_ ", max_size=40),
    st.text(max_size=40),
)


@st.composite
def references(draw: st.DrawFn) -> tuple[str, str | None, str, str | None, str | None]:
    """A well-formed reference and the parts it was built from (expected registry, path, tag, digest)."""
    registry = draw(REGISTRY)
    segments = draw(st.lists(SEGMENT, min_size=1, max_size=4))
    if registry is None and len(segments) > 1:
        # without a registry the first segment must not look like one
        assume("." not in segments[0] and segments[0] != "localhost")
    tag = draw(st.none() | IMAGE_TAG)
    digest = draw(st.none() | DIGEST)
    path = "/".join(segments)
    text = (f"{registry}/" if registry else "") + path + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    docker_hub = registry in (None, "docker.io")
    expected_path = f"library/{path}" if docker_hub and len(segments) == 1 else path
    return text, registry, expected_path, tag, digest


KEYS = st.sampled_from(
    [
        "kind",
        "metadata",
        "name",
        "namespace",
        "labels",
        "annotations",
        "spec",
        "template",
        "containers",
        "initContainers",
        "image",
        "version",
        "olm.copiedFrom",
        "support.stakater.com/product",
        "support.stakater.com/version",
        "app.kubernetes.io/version",
        "helm.sh/chart",
    ]
) | st.text(max_size=6)
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.sampled_from([*WORKLOAD_KINDS, CSV_KIND, "List", "tenant-operator.v1.9.0", "application-9.2.0"])
    | IMAGE_LIKE
)
JSON = st.recursive(
    LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=25,
)


VERSIONISH = st.one_of(
    st.from_regex(r"\A[vV]?[0-9]{1,4}(\.[0-9]{1,4}){0,3}([-+_][0-9A-Za-z.-]{0,6})?\Z"),
    st.sampled_from(["latest", "merge-123", "", "1.4", "v1.4.21-ubi", "99999999999"]),
    st.text(max_size=12),
)


def _maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The expected shape nine times in ten, arbitrary JSON otherwise."""
    return st.integers(0, 9).flatmap(lambda n: JSON if n == 0 else value)


LABELS = _maybe(
    st.dictionaries(
        KEYS | st.sampled_from(["app", "provider", "app.kubernetes.io/name"]),
        st.sampled_from(["reloader", "stakater", "forecastle", "application-9.2.0", "v1.4.21", "reloader"])
        | st.text(max_size=12),
        max_size=6,
    )
)
CONTAINER = _maybe(st.fixed_dictionaries({"name": st.text(max_size=4), "image": _maybe(IMAGE_LIKE)}))
POD_SPEC = _maybe(
    st.fixed_dictionaries(
        {"containers": _maybe(st.lists(CONTAINER, max_size=3))},
        optional={"initContainers": _maybe(st.lists(CONTAINER, max_size=2))},
    )
)
TEMPLATE = _maybe(
    st.fixed_dictionaries(
        {
            "metadata": _maybe(st.fixed_dictionaries({"labels": LABELS}, optional={"annotations": LABELS})),
            "spec": POD_SPEC,
        }
    )
)


@st.composite
def workload_shaped(draw: st.DrawFn) -> dict[str, Any]:
    """Objects shaped like workloads or CSVs, with any part replaced by arbitrary JSON now and then."""
    meta = _maybe(
        st.fixed_dictionaries(
            {
                "name": _maybe(st.sampled_from(["reloader", "tenant-operator.v1.9.0"]) | st.text(max_size=30)),
                "namespace": _maybe(st.text(max_size=10)),
                "labels": LABELS,
            },
            optional={"annotations": LABELS},
        )
    )
    spec = _maybe(st.fixed_dictionaries({"template": TEMPLATE}, optional={"version": _maybe(VERSIONISH)}))
    kind = draw(_maybe(st.sampled_from([*WORKLOAD_KINDS, CSV_KIND, "Service"])))
    return {"kind": kind, "metadata": draw(meta), "spec": draw(spec)}


PRODUCTS = st.sampled_from([*DEFAULT.products, "tronador", "", " ", "reloader "]) | st.text(max_size=12)


@st.composite
def arbitrary_facts(draw: st.DrawFn) -> WorkloadFacts:
    labels = draw(
        st.dictionaries(
            KEYS | st.sampled_from(["app", "provider", "app.kubernetes.io/name"]),
            st.sampled_from(["reloader", "stakater", "forecastle", "application-1.0.0", "1.4.21"])
            | st.text(max_size=10),
            max_size=6,
        )
    )
    return WorkloadFacts(
        namespace=draw(st.text(max_size=10)),
        kind=draw(st.sampled_from([*WORKLOAD_KINDS, CSV_KIND]) | st.text(max_size=6)),
        name=draw(st.text(max_size=20)),
        images=tuple(draw(st.lists(IMAGE_LIKE, max_size=4))),
        labels=tuple(sorted(labels.items())),
        product_override=draw(st.none() | PRODUCTS),
        version_override=draw(st.none() | VERSIONISH),
        olm_package=draw(
            st.none() | st.sampled_from(["tenant-operator", "ingressmonitorcontroller"]) | st.text(max_size=8)
        ),
        olm_version=draw(st.none() | VERSIONISH),
    )


# ------------------------------------------------------------------ parse_image


@quick
@given(st.text())
def test_parse_image_never_raises_and_path_is_lowercase(text: str) -> None:
    ref = parse_image(text)
    assert isinstance(ref, ImageRef)
    assert ref.raw == text
    assert ref.path == ref.path.lower()
    assert ref.registry is None or ref.registry == ref.registry.lower()
    assert ref.tag is None or TAG.match(ref.tag)
    assert ref.digest is None or ref.digest == ref.digest.lower()


@quick
@given(IMAGE_LIKE)
def test_parse_image_on_image_like_text(text: str) -> None:
    ref = parse_image(text)
    assert ref.path == ref.path.lower()
    assert not ref.path.startswith("/")
    assert "@" not in ref.path


@quick
@given(st.none() | st.integers() | st.floats() | st.binary() | st.tuples(st.text()) | st.booleans())
def test_parse_image_of_hashable_non_strings_is_empty(value: object) -> None:
    assert parse_image(value) == ImageRef(raw="", registry=None, path="", tag=None, digest=None)


@quick
@given(references())
def test_parse_image_recovers_the_parts_of_well_formed_references(
    case: tuple[str, str | None, str, str | None, str | None],
) -> None:
    text, registry, path, tag, digest = case
    ref = parse_image(text)
    assert (ref.registry, ref.path, ref.tag, ref.digest) == (registry, path, tag, digest)
    assert ref.path_ends_with(path)
    assert ref.path_ends_with(ref.name)


# ---------------------------------------------------------------- parse_version


@quick
@given(st.text() | st.none() | st.integers() | st.floats())
def test_parse_version_never_raises(value: object) -> None:
    version = parse_version(value)
    if version is not None:
        assert isinstance(value, str)
        again = parse_version(str(version))
        assert again is not None
        assert (again.core, again.parts) == (version.core, version.parts)
        assert version.within(version)


@quick
@given(
    st.integers(0, 10**9 - 1),
    st.integers(0, 10**9 - 1),
    st.integers(0, 10**9 - 1),
    st.integers(1, 3),
    st.sampled_from(["", "v", "V"]),
    st.sampled_from(["", "-ubi", "+build.5", "_x"]),
)
def test_parse_version_round_trip(major: int, minor: int, patch: int, parts: int, prefix: str, suffix: str) -> None:
    numbers = [major, minor, patch][:parts]
    text = prefix + ".".join(map(str, numbers)) + suffix
    version = parse_version(text)
    assert version is not None
    assert str(version) == ".".join(map(str, numbers))
    assert version.parts == parts
    assert version.suffix == suffix[1:]
    expected = [*numbers, 0, 0][:3]
    assert version.core == tuple(expected)


@quick
@given(st.integers(0, 20), st.integers(0, 20), st.integers(0, 20), st.integers(1, 3), st.integers(0, 20))
def test_within_is_prefix_equality(major: int, minor: int, patch: int, parts: int, other_minor: int) -> None:
    line = Version(major, minor, patch, parts)
    version = Version(major, other_minor, patch, 3)
    assert version.within(line) == (version.core[:parts] == line.core[:parts])
    assert version.within(Version(major, 0, 0, 1))


# --------------------------------------------------------------------- facts


@quick
@given(st.dictionaries(KEYS, JSON, max_size=6))
def test_facts_from_arbitrary_json_never_raise(obj: dict[str, Any]) -> None:
    _check_facts(obj, facts_from_object(obj))


@quick
@given(workload_shaped())
def test_facts_from_workload_shaped_json_never_raise(obj: dict[str, Any]) -> None:
    facts = facts_from_object(obj)
    _check_facts(obj, facts)
    if facts is not None:
        for matrix in (DEFAULT, SMALL):
            _check_detections(matrix, facts, detect(matrix, facts))


def _check_facts(obj: dict[str, Any], facts: WorkloadFacts | None) -> None:
    if facts is None:
        return
    assert obj["kind"] == facts.kind
    assert facts.kind in (*WORKLOAD_KINDS, CSV_KIND)
    assert isinstance(facts.name, str)
    assert facts.name
    assert all(isinstance(i, str) and i for i in facts.images)
    assert len(set(facts.images)) == len(facts.images)
    assert len(facts.labels) <= 64
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in facts.labels)
    assert list(facts.labels) == sorted(facts.labels)
    if facts.kind != CSV_KIND:
        assert facts.olm_package is None


# -------------------------------------------------------------------- detect


def _check_detections(matrix: Any, facts: WorkloadFacts, found: list[Detection]) -> None:
    products = [d.product for d in found]
    assert len(products) == len(set(products))
    for d in found:
        assert d.via in ("annotation", "image", "labels", "olm")
        assert d.product in matrix.products or d.via == "annotation"
        # an unknown version always says why; a known one never carries a complaint
        assert (d.version is None) == (d.reason != "")
        if d.via == "image":
            assert d.edition is not None
        if d.via == "annotation":  # besides the annotated product, only products of recognised images
            assert all(o.via == "image" for o in found if o is not d)
            assert d.product == (facts.product_override or "").strip()


@quick
@given(arbitrary_facts())
def test_detect_never_raises_on_arbitrary_facts(facts: WorkloadFacts) -> None:
    for matrix in (DEFAULT, SMALL):
        _check_detections(matrix, facts, detect(matrix, facts))


# ------------------------------------------------------------------ evaluate


LINE_VERSIONS = st.sampled_from(["1.0.9", "1.1.0", "1.2.3", "1.3.0", "1.4.21", "2.0.0", "2.0.1", "0.1.39"]) | st.none()


EDITIONS = st.sampled_from([Edition.COMMUNITY, Edition.ENTERPRISE, None])
PLATFORMS = st.sampled_from(
    [
        Platform(),
        Platform(kubernetes="v1.30.2"),
        Platform(kubernetes="v1.18.0"),
        Platform(kubernetes="v1.34.1"),  # newer than reloader's maximum and than SMALL knows
        Platform(openshift="4.19.1"),  # the same for konfigurator
    ]
)
SPECS = st.fixed_dictionaries(
    {
        "plan": st.sampled_from(["Standard", "Premium"]),
        "type": st.sampled_from(["ProductSupport", "ManagedService"]),
        "products": st.sampled_from(
            [[], [{"name": "reloader", "edition": "Enterprise"}, {"name": "forecastle"}, {"name": "konfigurator"}]]
        ),
        "agreement": st.sampled_from(
            [{}, {"expiresOn": days(-1)}, {"effectiveFrom": days(3)}, {"effectiveFrom": days(-3), "expiresOn": days(9)}]
        ),
        "serviceCredits": st.fixed_dictionaries(
            {"definedInAgreement": st.booleans(), "applyUnderLimitedSupport": st.booleans()}
        ),
    }
).flatmap(
    lambda d: st.sampled_from(["Customer", "Stakater"] if d["type"] == "ManagedService" else ["Customer"]).map(
        lambda owner: {**d, "versionManagement": owner}
    )
)


def _assert_owner(p: ProductStatus, stakater: bool) -> None:
    """Who acts on a product version, by the rule."""
    newer_platform = "newer than the matrix lists" in p.reason  # a platform the matrix does not know yet
    if stakater:
        assert p.action_owner in (Party.STAKATER, None)
    elif newer_platform or p.matrix_behind:
        # Only the matrix is behind: Stakater's to update; unless the customer has something to do too
        # (another finding, or Premium's upgrade advice), which then makes the customer the owner.
        assert p.action_owner == Party.STAKATER or (
            p.action_owner == Party.CUSTOMER
            and (p.eligibility != Eligibility.ELIGIBLE or p.lifecycle == Lifecycle.DEPRECATED)
        )
    elif p.action_owner is not None:
        assert p.action_owner == Party.CUSTOMER


@quick
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["reloader", "forecastle", "konfigurator"]), LINE_VERSIONS, st.integers(0, 5), EDITIONS
        ),
        max_size=8,
    ),
    SPECS,
    PLATFORMS,
)
def test_engagement_verdict_is_the_documented_reduction_of_the_product_verdicts(
    found: list[tuple[str, str | None, int, Edition | None]], overrides: dict[str, Any], platform: Platform
) -> None:
    detections = [
        (f"ns{i}/Deployment/w", Detection(p, e, parse_version(v) if v else None, "image", "" if v else "no tag"))
        for p, v, i, e in found
    ]
    spec = SupportEngagementSpec.model_validate(engagement_spec(**overrides))
    status = evaluate(spec, SMALL, detections, platform, TODAY).status
    verdicts = [p.eligibility for p in status.products]
    assert None not in verdicts
    agreement = status.agreement
    assert agreement is not None
    # the reduction, as the README states it
    if not agreement.in_force:
        assert status.eligibility == Eligibility.INELIGIBLE
    elif all(v == Eligibility.ELIGIBLE for v in verdicts):
        assert status.eligibility == Eligibility.ELIGIBLE
    elif Eligibility.ELIGIBLE in verdicts:
        assert status.eligibility == Eligibility.LIMITED
    else:
        assert status.eligibility == Eligibility.INELIGIBLE
    stakater = overrides["versionManagement"] == "Stakater"
    for p in status.products:
        # the per-product rule
        if stakater:
            assert p.eligibility == Eligibility.ELIGIBLE
        elif p.lifecycle == Lifecycle.END_OF_LIFE:
            assert p.eligibility == Eligibility.INELIGIBLE
        elif p.matrix_behind:
            # newer than the matrix lists: never lowers eligibility (upgrading is never punished) unless
            # another finding does (a Community image under an Enterprise contract, the platform)
            running, newest = parse_version(p.version), SMALL.products[p.product].lines
            assert running and (not newest or running.core > newest[-1].line.core)
            assert p.lifecycle == Lifecycle.UNKNOWN and p.reason.startswith("matrix behind: ")
            assert p.eligibility == Eligibility.ELIGIBLE or p.action_owner == Party.CUSTOMER
        elif p.lifecycle == Lifecycle.UNKNOWN:
            assert p.eligibility in (Eligibility.LIMITED, Eligibility.INELIGIBLE)
        if p.eligibility != Eligibility.ELIGIBLE:
            assert p.action_owner == Party.CUSTOMER
        _assert_owner(p, stakater)
    # credits never apply unless the agreement defines them and the engagement is Eligible
    # (or Limited, where the agreement grants them under Limited Support too)
    credits = status.service_credits
    assert credits is not None
    terms = overrides["serviceCredits"]
    if credits.applicable:
        assert terms["definedInAgreement"]
        assert status.eligibility == Eligibility.ELIGIBLE or (
            status.eligibility == Eligibility.LIMITED and terms["applyUnderLimitedSupport"]
        )
    if not terms["applyUnderLimitedSupport"]:
        assert credits.applicable == (terms["definedInAgreement"] and status.eligibility == Eligibility.ELIGIBLE)
    assert status.products_out_of_support == sum(
        p.lifecycle in (Lifecycle.END_OF_LIFE, Lifecycle.UNKNOWN) and not p.matrix_behind for p in status.products
    )
    assert status.products_not_eligible == sum(p.eligibility != Eligibility.ELIGIBLE for p in status.products)
    # a workload reported twice for the same product version (an OLM install's CSV and Deployments) counts once
    distinct = {(r, d.product, d.edition, d.version_text) for r, d in detections}
    assert sum(p.workload_count for p in status.products + status.uncovered_products) == len(distinct)
    # a recommended version is never lower than the running one
    for p in status.products:
        running, target = parse_version(p.version), parse_version(p.recommended_version or "")
        if running and target:
            assert target.core >= running.core


@given(st.lists(st.sampled_from(list(Eligibility)[:3]), max_size=6), st.booleans())
def test_reduce_eligibility(products: list[Eligibility], in_force: bool) -> None:
    result = reduce_eligibility(products, in_force)
    eligible = products.count(Eligibility.ELIGIBLE)
    expected = (
        Eligibility.INELIGIBLE
        if not in_force
        else Eligibility.ELIGIBLE
        if eligible == len(products)
        else Eligibility.LIMITED
        if eligible
        else Eligibility.INELIGIBLE
    )
    assert result == expected
