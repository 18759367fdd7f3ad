"""The import graph, as DESIGN.md draws it: faces -> services -> domain; services -> store and connectors.
No face imports the store, and the domain imports nothing of ours but itself."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

import cauri

PACKAGE = Path(cauri.__file__).parent
FACES = ("api", "checkout", "cli.py", "dashboard", "workers")


def imported_modules(path: Path) -> set[str]:
    """Every ``cauri…`` module a file imports, at any depth (lazy imports inside functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m == "cauri" or m.startswith("cauri.")}


def files_of(part: str) -> list[Path]:
    target = PACKAGE / part
    return [target] if target.is_file() else sorted(target.rglob("*.py"))


def within(module: str, packages: tuple[str, ...]) -> bool:
    """Whether ``module`` is one of ``packages`` (``cauri.store``, …) or inside one."""
    return module in packages or module.startswith(tuple(p + "." for p in packages))


def leaks(part: str, forbidden: Callable[[str], bool]) -> list[str]:
    """Every import of a ``cauri`` module by ``part`` that ``forbidden`` refuses."""
    return sorted(
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in files_of(part)
        for module in imported_modules(path)
        if forbidden(module)
    )


def packages(*parts: str) -> tuple[str, ...]:
    return tuple(f"cauri.{p.removesuffix('.py')}" for p in parts)


@pytest.mark.parametrize("face", FACES)
def test_no_face_imports_the_store(face: str) -> None:
    assert not leaks(face, lambda m: within(m, ("cauri.store",)))


def test_the_domain_imports_only_itself() -> None:
    assert not leaks("domain", lambda m: not within(m, ("cauri.domain",)))


def test_services_do_not_import_faces() -> None:
    assert not leaks("services", lambda m: within(m, packages(*FACES)))


def test_the_store_calls_no_service_and_no_face() -> None:
    assert not leaks("store", lambda m: within(m, packages(*FACES, "services")))


def test_a_leak_is_seen(tmp_path: Path) -> None:
    leaky = tmp_path / "face.py"
    leaky.write_text("def handler():\n    from cauri.store.tables import payments\n    return payments\n")
    assert "cauri.store.tables" in imported_modules(leaky)
    assert within("cauri.store.tables", ("cauri.store",)) and not within("cauri.storefront", ("cauri.store",))
