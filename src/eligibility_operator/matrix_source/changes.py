"""What changed between two matrix documents, in words for an Event ("reloader 1.5 added").

A small stand-in for the ``matrix diff`` of the release tooling: the refresher calls :func:`matrix_changes`
only, so it can be swapped for that one.
"""

from __future__ import annotations

from ..api.models import CompatibilityMatrixSpec, MatrixProduct, Release
from ..core.versions import parse_version


def _line(release: Release) -> str:
    parsed = parse_version(release.version)
    return str(parsed) if parsed is not None else release.version


def _product_changes(old: MatrixProduct, new: MatrixProduct) -> list[str]:
    out: list[str] = []
    before = {_line(r): r for r in old.releases}
    after = {_line(r): r for r in new.releases}
    for line in sorted(after.keys() - before.keys(), key=_sort_key):
        out.append(f"{new.name} {line} added")
    for line in sorted(before.keys() - after.keys(), key=_sort_key):
        out.append(f"{new.name} {line} removed")
    for line in sorted(after.keys() & before.keys(), key=_sort_key):
        a, b = before[line], after[line]
        if a.end_of_support != b.end_of_support:
            out.append(f"{new.name} {line} end of support {a.end_of_support or 'none'} -> {b.end_of_support or 'none'}")
        if a.latest != b.latest:
            out.append(f"{new.name} {line} latest {a.latest or 'none'} -> {b.latest or 'none'}")
    if old.recognition != new.recognition:
        out.append(f"{new.name} recognition changed")
    if old.recommended_version != new.recommended_version:
        out.append(f"{new.name} recommended version {old.recommended_version} -> {new.recommended_version}")
    return out


def _sort_key(line: str) -> tuple[int, ...]:
    parsed = parse_version(line)
    return tuple(parsed.core) if parsed is not None else (0,)


def matrix_changes(old: CompatibilityMatrixSpec | None, new: CompatibilityMatrixSpec) -> list[str]:
    """Changes from ``old`` to ``new``, products first; empty when nothing a reader cares about changed."""
    if old is None:
        return [f"{len(new.products)} products: " + ", ".join(p.name for p in new.products)]
    out: list[str] = []
    before = {p.name: p for p in old.products}
    after = {p.name: p for p in new.products}
    out += [f"product {name} added" for name in after if name not in before]
    out += [f"product {name} removed" for name in before if name not in after]
    for name, product in after.items():
        if name in before:
            out += _product_changes(before[name], product)
    if old.platforms != new.platforms:
        out.append("platform release lines changed")
    if old.customer_applications != new.customer_applications:
        out.append("customer application exclusions changed")
    return out
