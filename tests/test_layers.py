"""The import graph, as DESIGN.md draws it: faces -> services -> domain; services -> store and connectors.
No face imports the store, and the domain imports nothing of ours but itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import cauri

PACKAGE = Path(cauri.__file__).parent
FACES = ("api", "checkout", "cli.py", "workers")


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


@pytest.mark.parametrize("face", FACES)
def test_no_face_imports_the_store(face: str) -> None:
    leaks = {
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in files_of(face)
        for module in imported_modules(path)
        if module == "cauri.store" or module.startswith("cauri.store.")
    }
    assert not leaks, sorted(leaks)


def test_the_domain_imports_only_itself() -> None:
    leaks = {
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in files_of("domain")
        for module in imported_modules(path)
        if module != "cauri.domain" and not module.startswith("cauri.domain.")
    }
    assert not leaks, sorted(leaks)


def test_services_do_not_import_faces() -> None:
    faces = tuple(f"cauri.{f.removesuffix('.py')}" for f in FACES)
    leaks = {
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in files_of("services")
        for module in imported_modules(path)
        if module in faces or module.startswith(tuple(f + "." for f in faces))
    }
    assert not leaks, sorted(leaks)


def test_the_store_calls_no_service_and_no_face() -> None:
    above = tuple(f"cauri.{p.removesuffix('.py')}" for p in (*FACES, "services"))
    leaks = {
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in files_of("store")
        for module in imported_modules(path)
        if module in above or module.startswith(tuple(a + "." for a in above))
    }
    assert not leaks, sorted(leaks)


def test_a_leak_is_seen(tmp_path: Path) -> None:
    leaky = tmp_path / "face.py"
    leaky.write_text("def handler():\n    from cauri.store.tables import payments\n    return payments\n")
    assert "cauri.store.tables" in imported_modules(leaky)
