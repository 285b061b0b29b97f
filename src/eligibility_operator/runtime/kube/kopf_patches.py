"""One targeted work-around for Kopf's memory use at scale.

For every event, Kopf (1.45) detects a "spawning cause" and, in ``process_spawning_cause``, keeps the
object's latest full body in the object's memory for its daemons and timers (``live_fresh_body``),
even for resources that have none. This operator has no daemons or timers, yet Kopf would hold a
full copy of every Deployment, StatefulSet and DaemonSet in the cluster for the life of the process
(measured: all 5,000 Deployment bodies still alive 30 s after the listing; with the patch, one).

The patch skips spawning-cause processing for resources without spawning handlers. It wraps a private
function, so it is applied only to the Kopf versions it was written against, and tested there
(``tests/unit/test_kopf_patches.py``); on other versions it logs a warning and does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

import kopf

log = logging.getLogger("eligibility_operator")
SUPPORTED_KOPF = ("1.45.",)


def skip_spawning_without_daemons() -> bool:
    """Apply the patch; True if it is in place."""
    version = str(getattr(kopf, "__version__", ""))
    if not version.startswith(SUPPORTED_KOPF):
        log.warning("Kopf %s: not patching process_spawning_cause; memory use will grow with the cluster", version)
        return False
    from kopf._core.reactor import processing

    original = processing.process_spawning_cause
    if getattr(original, "_without_daemons", False):
        return True

    async def process_spawning_cause(*, registry: Any, cause: Any, **kwargs: Any) -> Collection[float]:
        if not registry._spawning.has_handlers(resource=cause.resource):
            return []  # no daemons or timers for this resource: nothing to spawn, no body to keep
        result: Collection[float] = await original(registry=registry, cause=cause, **kwargs)
        return result

    process_spawning_cause._without_daemons = True  # type: ignore[attr-defined]
    processing.process_spawning_cause = process_spawning_cause  # type: ignore[assignment]
    return True
