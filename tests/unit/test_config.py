"""The configuration tree built from ``run``'s options: one table declares every option and the field it
sets, and from_options builds the frozen tree the components take their parts of."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import click
import pytest

from eligibility_operator.cli import run
from eligibility_operator.runtime.config import RUN_OPTIONS, OperatorConfig, from_options
from eligibility_operator.runtime.leadership import LeaseTiming


def parsed(*args: str) -> dict[str, Any]:
    with click.Context(run) as ctx:
        return dict(run.make_context("run", list(args), parent=ctx).params)


def _field_exists(path: str) -> bool:
    """``path`` ("election.timing.duration") names a field of the tree, through optional parts."""
    kind: Any = OperatorConfig
    for part in path.split("."):
        hints = typing.get_type_hints(kind)
        if part not in hints:
            return False
        kind = next((a for a in typing.get_args(hints[part]) if dataclasses.is_dataclass(a)), hints[part])
    return True


def test_every_option_names_a_field_of_the_configuration() -> None:
    assert [o.sets for o in RUN_OPTIONS if o.sets != "(environment)" and not _field_exists(o.sets)] == []
    declared = {p.name for p in run.params}
    assert len(declared) == len(RUN_OPTIONS)


def test_defaults_build_the_documented_tree() -> None:
    config = from_options(parsed(), identity="pod-a_1234")
    assert config.watch.coalesce_seconds == 0.05 and config.watch.cross_namespace == frozenset({"*"})
    assert config.webhook is None
    assert config.election is not None and config.election.identity == "pod-a_1234"
    assert config.election.timing == LeaseTiming(10, 7, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.watch = config.watch  # type: ignore[misc]


def test_options_reach_their_fields_and_inconsistent_ones_are_refused() -> None:
    args = ["-n", "a", "-n", "b", "--webhook-port", "9443", "--webhook-self-signed", "127.0.0.1"]
    args += ["--no-leader-election", "--cross-namespace-engagements", "platform, ops", "--cluster-name", "eu-1"]
    config = from_options(parsed(*args), identity="x")
    assert config.watch.namespaces == ("a", "b") and config.watch.cross_namespace == {"platform", "ops"}
    assert (
        config.webhook is not None and config.webhook.port == 9443 and "kube-system" in config.webhook.exempt_namespaces
    )
    assert config.election is None and config.serving.cluster_name == "eu-1"
    assert config.webhook.cert_mode == "ephemeral"
    # No certificate option: the operator keeps its own in a Secret (no add-on needed).
    alone = from_options(parsed("--webhook-port", "9443"), identity="x").webhook
    assert alone is not None and alone.cert_mode == "self" and alone.configuration == "eligibility-operator"
    with pytest.raises(ValueError, match="files needs --webhook-cert-dir"):
        from_options(parsed("--webhook-port", "9443", "--webhook-cert-mode", "files"), identity="x")
    with pytest.raises(ValueError, match="renew deadline"):
        from_options(parsed("--renew-deadline", "20"), identity="x")


def test_the_command_line_takes_its_defaults_from_the_configuration() -> None:
    """Defaults are written once, on the configuration's fields: without options, ``run`` builds them."""
    config = from_options(parsed(), identity="x")
    defaults = OperatorConfig()
    assert config.watch == defaults.watch
    assert config.serving == defaults.serving
    assert config.shutdown_drain == defaults.shutdown_drain == 5.0
    assert config.election is not None and config.election.timing == LeaseTiming()
    written = [o.flags[0] for o in RUN_OPTIONS if "default" in o.settings and o.settings["default"] not in (None, 0)]
    assert written == ["--leader-election/--no-leader-election"]  # a switch: the config's None means off
