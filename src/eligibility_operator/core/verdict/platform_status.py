"""The engagement's ``status.platform`` and its PlatformCompatible reason, from the covered versions'
verdicts and the platform line's maintenance. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from ...api.models import Lifecycle, Party, PlatformStatus, SupportEngagementSpec
from ..compat.platforms import Platform, PlatformJudgement
from ..compat.versions import parse_version
from . import policy
from .judgement import VersionVerdict


def platform_status_of(
    spec: SupportEngagementSpec,
    verdicts: Sequence[VersionVerdict],
    platform: Platform,
    lifecycle: PlatformJudgement | None,
) -> PlatformStatus:
    """The engagement's status.platform: the covered versions' platform findings and the line's maintenance."""
    problems = list(dict.fromkeys(p for v in verdicts for p in v.platform))
    behind = list(dict.fromkeys(p for v in verdicts for p in v.platform_behind))
    known = parse_version(platform.kubernetes or "") is not None or parse_version(platform.openshift or "") is not None
    if platform.openshift_problem:  # OpenShift whose version is unreadable: never judged as plain Kubernetes
        known, problems, behind = False, [platform.openshift_problem], []
    unmaintained = lifecycle is not None and lifecycle.lifecycle in (Lifecycle.END_OF_LIFE, Lifecycle.DEPRECATED)
    owner = Party.STAKATER if policy.stakater_manages_infrastructure(spec) else Party.CUSTOMER
    return PlatformStatus(
        kubernetes_version=platform.kubernetes,
        openshift_version=platform.openshift,
        compatible=(not problems) if known else None,
        message="; ".join([*problems, *behind]) or ("" if known else "platform version unknown"),
        lifecycle=lifecycle.lifecycle if lifecycle else None,
        release=lifecycle.release if lifecycle else None,
        end_of_maintenance=lifecycle.end_of_maintenance if lifecycle else None,
        action_owner=owner if unmaintained else None,
    )


def platform_reason(
    compatible: bool | None, verdicts: Sequence[VersionVerdict], platform: Platform | None = None
) -> str:
    """MatrixBehind: a platform newer than a product's documented range, and than the matrix lists;
    OpenShiftVersionUnreadable: the cluster serves config.openshift.io but its ClusterVersion could not be read."""
    if platform is not None and platform.openshift_problem:
        return "OpenShiftVersionUnreadable"
    behind = compatible and any(v.platform_behind for v in verdicts)
    return (
        "MatrixBehind" if behind else {True: "Compatible", False: "Incompatible", None: "PlatformUnknown"}[compatible]
    )
