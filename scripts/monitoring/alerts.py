"""Prometheus alerting rules: who must act is the ``owner`` label, so Alertmanager can route on it.

- Support findings carry ``owner: Customer`` or ``owner: Stakater`` (from the operator's ``action_owner``
  and ``engagement_findings`` series) and the engagement's ``cluster``, ``customer``, ``type``, ``plan``
  and ``agreement`` (joined from ``stakater_support_engagement_info``).
- The operator's own health carries ``component: eligibility-operator`` instead: it goes to whoever
  runs the operator in that cluster, which the metrics cannot know.
- Every per-engagement expression aggregates with ``max by``, so two operator replicas never double
  an alert; only the leader evaluates, so "not evaluating" is asked of the leader alone.
"""

from __future__ import annotations

from typing import Any

P = "stakater_support"
KEY = "cluster, namespace, engagement"
TERMS = "customer, type, plan, agreement"
WITH_TERMS = f"* on ({KEY}) group_left ({TERMS}) max by ({KEY}, {TERMS}) ({P}_engagement_info)"
WHERE = "{{ with $labels.cluster }}{{ . }}: {{ end }}{{ $labels.namespace }}/{{ $labels.engagement }}"
WHO = '{{ if eq $labels.owner "Stakater" }}Stakater action item{{ else }}Customer action{{ end }}'
DESCRIBE = "`kubectl describe se {{ $labels.engagement }} -n {{ $labels.namespace }}`"
CONTRACT = "{{ $labels.customer }}, {{ $labels.type }} {{ $labels.plan }}, agreement {{ $labels.agreement }}"
OPERATOR = {"component": "eligibility-operator"}
BEHIND = f"{P}_product_not_in_matrix"


def _state(state: str) -> str:
    return f'max by ({KEY}) ({P}_engagement_eligibility{{eligibility="{state}"}}) == 1'


def _engagement_by_owner(state: str) -> str:
    """One series per engagement in ``state`` and party with findings; none recorded: the customer."""
    return (
        f"(\n  sum by ({KEY}, owner) (max by ({KEY}, owner, kind) ({P}_engagement_findings > 0))\n"
        f"    and on ({KEY}) ({_state(state)})\n"
        f'  or on ({KEY})\n  label_replace({_state(state)}, "owner", "Customer", "", "")\n)\n{WITH_TERMS}'
    )


def _product_owner(selector: str) -> str:
    """Product versions matching ``selector`` with ``owner`` copied from ``action_owner`` (default Customer)."""
    versions = f"max by ({KEY}, product, edition, version, action_owner) ({P}_product_workloads{{{selector}}}) > 0"
    owner = f'label_replace({versions}, "owner", "$1", "action_owner", "(.+)")'
    return f'max without (action_owner) (label_replace({owner}, "owner", "Customer", "owner", ""))'


def rules() -> dict[str, Any]:
    support = [
        {
            "alert": "SupportEngagementIneligible",
            "expr": _engagement_by_owner("Ineligible"),
            "for": "15m",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": f"Stakater support does not apply to {WHERE} ({{{{ $labels.customer }}}})",
                "description": (
                    f"{WHO}. The engagement ({CONTRACT}) is Ineligible: its agreement is not in force, or no covered "
                    "product version found is eligible (end of life, or the platform is not supported). Service "
                    "credits do not apply. {{ $value }} finding(s) for {{ $labels.owner }}: "
                    f"{DESCRIBE} names each one (product, version, workloads, upgrade target or agreement term)."
                ),
            },
        },
        {
            "alert": "SupportEngagementLimited",
            "expr": _engagement_by_owner("Limited"),
            "for": "1h",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": f"Limited Support for {WHERE} ({{{{ $labels.customer }}}})",
                "description": (
                    f"{WHO}. Engagement ({CONTRACT}) is in Limited Support: at least one covered product version is "
                    "Limited (version unknown, Community image under an Enterprise contract) or Ineligible (end of "
                    "life, platform not supported), while the other products stay fully supported. No SLA applies to "
                    "the affected products and service credits are denied unless the agreement grants them. "
                    "{{ $value }} finding(s) for {{ $labels.owner }}: "
                    f"the Eligible condition of {DESCRIBE} lists them."
                ),
            },
        },
        {
            "alert": "SupportEngagementNotReady",
            "expr": (
                f"(max by ({KEY}) ({P}_engagement_ready) == 0)\n"
                f"* on ({KEY}) group_left ({TERMS}, owner)\n"
                f'  label_replace(label_replace(max by ({KEY}, {TERMS}) ({P}_engagement_info), "owner", "Stakater", '
                f'"type", "ManagedService"), "owner", "Customer", "type", "ProductSupport|")'
            ),
            "for": "15m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": f"Support engagement {WHERE} cannot be evaluated (Ready=False)",
                "description": (
                    f"{WHO}: the engagement's eligibility is Unknown because it could not be evaluated (a field in "
                    "its spec, or its CompatibilityMatrix is missing or invalid). The party that maintains the "
                    "engagement fixes it: Stakater on a ManagedService platform, the customer's platform team "
                    f"otherwise. The Ready condition of {DESCRIBE} names the field."
                ),
            },
        },
        {
            "alert": "StakaterProductEndOfLife",
            "expr": _product_owner('lifecycle="EndOfLife"'),
            "for": "15m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "{{ $labels.product }} {{ $labels.version }} is end of life in " + WHERE,
                "description": (
                    f"{WHO}: {{{{ $value }}}} workload(s) run {{{{ $labels.product }}}} {{{{ $labels.edition }}}} "
                    "{{ $labels.version }}, past its end of support. Upgrade to the recommendedVersion in the "
                    "engagement's status.products. The owner is the customer, or Stakater for a managed service "
                    "with versionManagement Stakater (then the version does not reduce the customer's eligibility)."
                ),
            },
        },
        {
            "alert": "StakaterProductEndOfSupportApproaching",
            "expr": _product_owner('lifecycle="Deprecated"'),
            "for": "1h",
            "labels": {"severity": "info"},
            "annotations": {
                "summary": "{{ $labels.product }} {{ $labels.version }} reaches end of support within the "
                "upgrade horizon (" + WHERE + ")",
                "description": (
                    f"{WHO}: {{{{ $labels.product }}}} {{{{ $labels.version }}}} ends support within the Premium "
                    "engagement's upgradeHorizonDays (stakater_support_product_time_to_end_of_support_seconds "
                    "tells when). Plan the upgrade with Stakater (proactive lifecycle guidance); the version stays "
                    "eligible until then."
                ),
            },
        },
        {
            "alert": "StakaterProductVersionUnknown",
            "expr": _product_owner('lifecycle="Unknown"') + f"\nunless on ({KEY}, product, edition, version) {BEHIND}",
            "for": "1h",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "{{ $labels.product }} {{ $labels.version }}: support cannot be confirmed in " + WHERE,
                "description": (
                    f"{WHO}: {{{{ $value }}}} workload(s) run {{{{ $labels.product }}}} at a version the compatibility "
                    "matrix cannot judge (a tag such as latest, a digest without a trusted version label, a "
                    "version between listed lines): support for it cannot be confirmed (Limited Support, unless "
                    "Stakater maintains the versions under the agreement). Run a listed version; "
                    "status.products[].reason says why. (A version newer than the matrix lists is "
                    "StakaterProductNotInMatrix instead.)"
                ),
            },
        },
        {
            "alert": "StakaterProductNotInMatrix",
            "expr": (
                f"label_replace(max by ({KEY}, product, edition, version) ({BEHIND}) > 0, "
                f'"owner", "Stakater", "", "")\n{WITH_TERMS}'
            ),
            "for": "1h",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "{{ $labels.product }} {{ $labels.version }} is newer than the compatibility matrix lists ("
                + WHERE
                + ")",
                "description": (
                    f"{WHO}: the CompatibilityMatrix is behind. {{{{ $labels.product }}}} {{{{ $labels.edition }}}} "
                    "{{ $labels.version }} runs in the engagement but is newer than the newest release line the "
                    "matrix lists. The customer upgraded, which never lowers eligibility: the version is reported "
                    "with lifecycle Unknown and stays eligible until Stakater lists it (publish a new matrix: "
                    f"`eligibility-operator matrix build`, then apply it). {CONTRACT}."
                ),
            },
        },
        {
            "alert": "SupportPlatformIncompatible",
            "expr": f'max by ({KEY}, owner) ({P}_engagement_findings{{kind="platform"}} > 0)\n{WITH_TERMS}',
            "for": "30m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": f"The cluster's platform is not supported for {WHERE}",
                "description": (
                    f"{WHO}: a detected product does not support this Kubernetes/OpenShift version, or the "
                    "platform's release line is past its end of maintenance, so the affected products are not "
                    "eligible. The platform is upgraded by the customer, or by Stakater where it manages the "
                    f"infrastructure. The PlatformCompatible condition of {DESCRIBE} names product and range."
                ),
            },
        },
        {
            "alert": "SupportRequestP1AgainstIneligibleProduct",
            "expr": (
                f"max by (cluster, namespace, request, request_severity, owner) "
                f'({P}_request_ineligible_products{{request_severity="P1"}}) > 0'
            ),
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": (
                    "P1 support request {{ with $labels.cluster }}{{ . }}: {{ end }}{{ $labels.namespace }}/"
                    "{{ $labels.request }} is filed against an ineligible product"
                ),
                "description": (
                    f"{WHO}, at once: {{{{ $value }}}} affected product(s) of this P1 are not eligible (an end-of-life "
                    "version, or a platform the product does not support), and Stakater may require the upgrade "
                    "before full assistance (policy section 7). Tell the requester: upgrade first. "
                    "`kubectl describe sr {{ $labels.request }} -n "
                    "{{ $labels.namespace }}`: status.products names the version to upgrade to and "
                    "status.responsibilities who acts next."
                ),
            },
        },
    ]
    operator = [
        {
            "alert": "EligibilityOperatorDown",
            "expr": 'up{job="eligibility-operator"} == 0 or absent(up{job="eligibility-operator"})',
            "for": "10m",
            "labels": {"severity": "warning", **OPERATOR},
            "annotations": {
                "summary": "eligibility-operator is down or not scraped",
                "description": (
                    "Support eligibility is no longer checked, and statuses and metrics go stale. For the team "
                    "running the operator in this cluster: `kubectl -n eligibility-operator get pods` and the "
                    "pod's logs."
                ),
            },
        },
        {
            "alert": "EligibilityOperatorClusterSilent",
            "expr": (
                f"max by (cluster) (max_over_time({P}_build_info[1d]))\n"
                f"unless on (cluster) max by (cluster) ({P}_build_info)"
            ),
            "for": "15m",
            "labels": {"severity": "warning", **OPERATOR},
            "annotations": {
                "summary": "Cluster {{ $labels.cluster }} stopped reporting support eligibility",
                "description": (
                    "An operator that reported within the last day no longer does: the cluster's operator is down, "
                    "or its Prometheus no longer forwards (remote write, federation). For the team running the "
                    "operator in that cluster; `up` there tells which."
                ),
            },
        },
        {
            "alert": "EligibilityOperatorNotEvaluating",
            "expr": (
                f"max by (cluster, instance) ({P}_engagements) > 0\n"
                f"and on (cluster, instance) max by (cluster, instance) ({P}_leader) == 1\n"
                f"and on (cluster, instance) (time() - max by (cluster, instance) "
                f"({P}_last_evaluation_timestamp_seconds)) > 7200"
            ),
            "for": "15m",
            "labels": {"severity": "warning", **OPERATOR},
            "annotations": {
                "summary": "eligibility-operator has not evaluated any engagement for over 2 hours",
                "description": (
                    "The leader re-evaluates every engagement at least hourly; none was evaluated for 2 hours, so "
                    "statuses may be stale. For the team running the operator: check its log for API errors and "
                    "stakater_support_errors_total; restarting the pod is safe."
                ),
            },
        },
        {
            "alert": "EligibilityOperatorNoLeader",
            "expr": f"max by (cluster) ({P}_leader) == 0",
            "for": "10m",
            "labels": {"severity": "warning", **OPERATOR},
            "annotations": {
                "summary": "No eligibility-operator replica holds the leader Lease"
                "{{ with $labels.cluster }} in {{ . }}{{ end }}",
                "description": (
                    "Every replica runs, none writes: engagement statuses and Events are not updated. For the team "
                    "running the operator: check the Lease (`kubectl -n eligibility-operator get lease`) and the "
                    "replicas' logs for API errors on coordination.k8s.io."
                ),
            },
        },
        {
            "alert": "EligibilityOperatorErrors",
            "expr": f"sum by (cluster, operation) (rate({P}_errors_total[15m])) > 0.05",
            "for": "15m",
            "labels": {"severity": "warning", **OPERATOR},
            "annotations": {
                "summary": "eligibility-operator keeps failing to {{ $labels.operation }}",
                "description": (
                    "Calls to the API server fail repeatedly (they are retried); usually RBAC or API server "
                    "availability. For the team running the operator: see the operator's log."
                ),
            },
        },
        {
            "alert": "EligibilityOperatorOpenShiftVersionUnreadable",
            "expr": f"max by (cluster) ({P}_platform_openshift_unreadable) == 1",
            "for": "15m",
            "labels": {"severity": "warning", **OPERATOR},
            "annotations": {
                "summary": "eligibility-operator cannot read the OpenShift version{{ with $labels.cluster }} "
                "of {{ . }}{{ end }}",
                "description": (
                    "The cluster serves config.openshift.io, but the ClusterVersion 'version' could not be read "
                    "(forbidden or failing): engagements show PlatformCompatible=Unknown/OpenShiftVersionUnreadable "
                    "and OpenShift compatibility is not judged. For the team running the operator: grant get on "
                    "clusterversions.config.openshift.io named 'version' (deploy/base/rbac.yaml does) and see the "
                    "operator's log."
                ),
            },
        },
    ]
    operator.append(
        {
            "alert": "EligibilityOperatorMatrixRefreshFailing",
            "expr": f"sum by (cluster, reason) (increase({P}_matrix_refresh_errors_total[1h])) > 0",
            "for": "2h",
            "labels": {"severity": "info", **OPERATOR},
            "annotations": {
                "summary": "CompatibilityMatrix sources keep failing to refresh ({{ $labels.reason }})",
                "description": (
                    "Fetches of a CompatibilityMatrix spec.source have failed for 2 hours (SourceUnreachable: "
                    "network, TLS, 404; TimedOut: slower than spec.source.timeout; SignatureInvalid; TooLarge; "
                    "Invalid). Nothing was applied: the last good copy stays in use. For the team running the "
                    "operator: the Fetched condition of `kubectl get cmx -o yaml` names the URL and the error; in an "
                    "air gap, check the mirror."
                ),
            },
        }
    )
    matrix = [
        {
            "alert": "StakaterSupportMatrixStale",
            "expr": (
                f"(\n  time() - max by (cluster, matrix) ({P}_matrix_last_refresh_timestamp_seconds)\n"
                f"    > on (cluster, matrix) max by (cluster, matrix) ({P}_matrix_max_age_seconds)\n"
                f"  or on (cluster, matrix)\n  max by (cluster, matrix) ({P}_matrix_max_age_seconds)\n"
                f"    unless on (cluster, matrix)\n"
                f"      max by (cluster, matrix) ({P}_matrix_last_refresh_timestamp_seconds)\n"
                ")"
            ),
            "for": "30m",
            "labels": {"severity": "warning", "owner": "Stakater"},
            "annotations": {
                "summary": "CompatibilityMatrix {{ $labels.matrix }}{{ with $labels.cluster }} in {{ . }}{{ end }} "
                "is stale",
                "description": (
                    "Stakater action item: the matrix has not been refreshed from its spec.source within its "
                    "maxAge (or never was), so new releases and end-of-support dates are not known to the cluster. "
                    "Engagements are still judged with the last good copy. Check that the published document and "
                    "its signature are current and reachable; the Current condition of `kubectl get cmx "
                    "{{ $labels.matrix }} -o yaml` says why (SourceUnreachable, TimedOut, SignatureInvalid, Invalid, "
                    "Stale)."
                ),
            },
        }
    ]
    return {
        "groups": [
            {"name": "stakater-support-eligibility", "rules": support},
            {"name": "stakater-support-operator", "rules": operator},
            {"name": "stakater-support-matrix", "rules": matrix},
        ]
    }
