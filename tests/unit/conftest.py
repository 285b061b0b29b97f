"""Unit tests: pure code only. No fixture here starts anything; the session fixtures of
tests/conftest.py (control plane, kubectl, namespaces) are never requested by these tests."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Hypothesis caches Unicode tables and constants in a storage directory (./.hypothesis by default).
# Keep it out of the working tree unless the caller chose a place; Hypothesis reads this lazily.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "eligibility-operator-unit-hypothesis")
)
