"""What the operator's components share: built once by :mod:`.app` and given to each of them.

The controllers of each kind (:mod:`.controllers.routes`), the matrix refresher, upkeep and the admission
handler all work on the same state, through the same API client, count into the same metrics, start their
work on the same background tasks and ask the same leader election whether they may write.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .kube.api import KubeApi
from .leadership import AlwaysLeader, Leadership
from .metrics import OperatorMetrics
from .state import OperatorState
from .tasks import BackgroundTasks


@dataclass(frozen=True)
class Parts:
    state: OperatorState
    kube: KubeApi  # the operator's writes go through it fenced by leadership (app.py); admission's are not
    metrics: OperatorMetrics
    tasks: BackgroundTasks
    leadership: Leadership = field(default_factory=AlwaysLeader)  # without leader election: always writes


class Component:
    """One of those components: it keeps the parts as its own attributes (``self.state``, ``self.kube``...)."""

    def __init__(self, parts: Parts) -> None:
        self.state = parts.state
        self.kube = parts.kube
        self.metrics = parts.metrics
        self.tasks = parts.tasks
        self.leadership = parts.leadership
