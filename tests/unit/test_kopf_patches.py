"""The Kopf work-around: spawning causes are skipped only for resources without daemons or timers."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import kopf
import pytest
from kopf._cogs.structs.references import Resource
from kopf._core.reactor import processing

from eligibility_operator.runtime.kube import kopf_patches

DEPLOYMENTS = Resource("apps", "v1", "deployments", namespaced=True)
DAEMONIZED = Resource("example.com", "v1", "things", namespaced=True)


@pytest.fixture
def patched(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []

    async def original(**kwargs: Any) -> list[float]:
        calls.append(kwargs["cause"].resource)
        return [1.0]

    monkeypatch.setattr(processing, "process_spawning_cause", original)
    assert kopf_patches.skip_spawning_without_daemons()
    assert processing.process_spawning_cause is not original
    return calls


def _registry() -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.daemon("example.com", "v1", "things", registry=registry)
    async def daemon(**_: Any) -> None:
        pass

    return registry


def _call(registry: kopf.OperatorRegistry, resource: Resource) -> Any:
    cause = SimpleNamespace(resource=resource)
    return asyncio.run(
        processing.process_spawning_cause(
            registry=registry, settings=None, memory=None, cause=cause, operator_paused=None
        )
    )


def test_resources_without_daemons_skip_spawning(patched: list[Any]) -> None:
    assert list(_call(_registry(), DEPLOYMENTS)) == []
    assert patched == []  # Kopf's function (which keeps the body) never ran


def test_resources_with_daemons_still_spawn(patched: list[Any]) -> None:
    assert list(_call(_registry(), DAEMONIZED)) == [1.0]
    assert patched == [DAEMONIZED]


def test_patch_is_idempotent(patched: list[Any]) -> None:
    first = processing.process_spawning_cause
    assert kopf_patches.skip_spawning_without_daemons()
    assert processing.process_spawning_cause is first
