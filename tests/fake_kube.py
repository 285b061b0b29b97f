"""An in-memory :class:`~eligibility_operator.runtime.kube.api.KubeApi` for fast runtime tests.

It holds objects per resource (what ``count`` and ``list_keys`` see), records every status
write and Event, and fails calls on request, so that the reconciler's retries, priming and
sweeps can be tested in milliseconds without a control plane.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eligibility_operator.core.verdict.evaluation import Platform

if TYPE_CHECKING:
    from eligibility_operator.runtime.kube.api import KubeApi


class FakeApiError(Exception):
    """What a failing fake call raises (the runtime treats every exception alike)."""


@dataclass
class StatusWrite:
    plural: str
    namespace: str | None
    name: str
    status: dict[str, Any]


@dataclass
class PostedEvent:
    namespace: str
    name: str
    uid: str
    kind: str
    reason: str
    message: str
    warning: bool


class FakeKubeApi:
    def __init__(self, platform: Platform | None = None) -> None:
        self.objects: dict[str, set[tuple[str, str]]] = defaultdict(set)  # plural -> (namespace, name)
        self.unserved: set[str] = set()  # plurals answered with None (not served)
        self.status_writes: list[StatusWrite] = []
        self.events: list[PostedEvent] = []
        self.webhook_configurations: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.failures: dict[str, int] = defaultdict(int)  # method -> how many next calls fail
        self._platform = platform or Platform(kubernetes="v1.30.2")
        # SupportRequest diagnostics: (namespace, kind, name) -> (status, spec.replicas) / Events
        self.workload_statuses: dict[tuple[str, str, str], tuple[dict[str, Any], Any]] = {}
        self.object_events: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)

    # --------------------------------------------------------- test control

    def add(self, plural: str, namespace: str, name: str) -> None:
        self.objects[plural].add((namespace, name))

    def delete(self, plural: str, namespace: str, name: str) -> None:
        self.objects[plural].discard((namespace, name))

    def fail(self, method: str, times: int = 1) -> None:
        self.failures[method] += times

    def _call(self, method: str, *args: Any) -> None:
        self.calls.append((method, args))
        if self.failures[method] > 0:
            self.failures[method] -= 1
            raise FakeApiError(f"{method} failed (injected)")

    def writes_to(self, plural: str) -> list[StatusWrite]:
        return [w for w in self.status_writes if w.plural == plural]

    # ---------------------------------------------------------------- KubeApi

    def replace_status(self, plural: str, namespace: str | None, name: str, status: dict[str, Any]) -> bool:
        self._call("replace_status", plural, namespace, name)
        if (namespace or "", name) not in self.objects[plural]:
            return False
        self.status_writes.append(StatusWrite(plural, namespace, name, copy.deepcopy(status)))
        return True

    def emit_event(
        self, *, namespace: str, name: str, uid: str, kind: str, reason: str, message: str, warning: bool
    ) -> None:
        self._call("emit_event", namespace, name, reason)
        self.events.append(PostedEvent(namespace, name, uid, kind, reason, message, warning))

    def apply_webhook_configuration(self, body: dict[str, Any]) -> None:
        self._call("apply_webhook_configuration", body["metadata"]["name"])
        self.webhook_configurations[body["metadata"]["name"]] = body

    def delete_webhook_configuration(self, name: str) -> None:
        self._call("delete_webhook_configuration", name)
        self.webhook_configurations.pop(name, None)

    def count(self, group: str, version: str, plural: str, namespace: str | None = None) -> int | None:
        keys = self.list_keys(group, version, plural, namespace, _method="count")
        return None if keys is None else len(keys)

    def list_keys(
        self, group: str, version: str, plural: str, namespace: str | None = None, *, _method: str = "list_keys"
    ) -> set[tuple[str, str]] | None:
        self._call(_method, plural, namespace)
        if plural in self.unserved:
            return None
        return {k for k in self.objects[plural] if namespace is None or k[0] == namespace}

    def workload_status(self, namespace: str, kind: str, name: str) -> tuple[dict[str, Any], Any] | None:
        self._call("workload_status", namespace, kind, name)
        return self.workload_statuses.get((namespace, kind, name))

    def events_about(self, namespace: str, kind: str, name: str) -> list[dict[str, Any]]:
        self._call("events_about", namespace, kind, name)
        return list(self.object_events.get((namespace, kind, name), []))

    def platform(self) -> Platform:
        self._call("platform")
        return self._platform


if TYPE_CHECKING:
    _pinned: KubeApi = FakeKubeApi()  # the fake keeps to the interface it stands in for (mypy checks)
