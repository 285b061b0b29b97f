"""The docs site's reference pages are generated from the code (scripts/generate_docs.py): the committed
pages must be what the generator prints now, so CRD fields, options and metrics cannot drift."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("generate_docs", REPO / "scripts" / "generate_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_docs"] = module
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()


@pytest.mark.parametrize("page", sorted(GENERATOR.PAGES))
def test_reference_page_is_current(page: str) -> None:
    committed = (REPO / "docs" / "reference" / page).read_text()
    assert committed == GENERATOR.PAGES[page](), f"docs/reference/{page} is out of date: run `make docs-reference`"


def test_reference_names_what_users_look_up() -> None:
    assert "| `spec.customer` | string | yes |" in GENERATOR.crd_reference()
    assert "`--renew-deadline" in GENERATOR.cli_reference()
    assert "`stakater_support_leader` | gauge" in GENERATOR.metrics_reference()
    assert '<a id="eo101"></a>`EO101` | EndOfLife | Ineligible |' in GENERATOR.findings_reference()
