"""The layer rule, read from the imports: api -> governance -> ledger, and inside api, routes are thin.

- `ledger` imports neither `governance` nor `api`; `governance` does not import `api`.
- Nothing below `api` imports FastAPI or Starlette; services never import FastAPI, routes or the
  composition root (`api.gateway`); routes never import another route or web3.
- `api/` has no import circle (counting imports inside functions, which only hide a circle).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ledger", "governance", "api")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(p): p
        for package in PACKAGES
        for p in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in p.parts
    }


MODULES = _modules()


def _imports(module: str) -> Iterator[str]:
    """Every module `module` imports, anywhere in its body (type-checking-only imports included)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            parent = base
            while "." in parent:  # importing a.b.c runs a.b's __init__ first
                parent = parent.rpartition(".")[0]
                yield parent
            for alias in node.names:  # `from api import pages` imports the module api.pages
                if f"{base}.{alias.name}" in MODULES:
                    yield f"{base}.{alias.name}"


def _is(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _violations(modules: list[str], *forbidden: str) -> list[str]:
    return [f"{m} imports {i}" for m in modules for i in _imports(m) if _is(i, *forbidden)]


def _in(*prefixes: str) -> list[str]:
    return [m for m in MODULES if _is(m, *prefixes)]


ROUTES = [m for m in _in("api.routes", "api.pages") if m not in ("api.routes", "api.pages")]
SERVICES = [*_in("api.services"), "api.engine"]


def test_the_ledger_imports_neither_governance_nor_api() -> None:
    assert _violations(_in("ledger"), "governance", "api") == []


def test_governance_does_not_import_api() -> None:
    assert _violations(_in("governance"), "api") == []


def test_nothing_below_api_knows_http() -> None:
    assert _violations(_in("ledger", "governance"), "fastapi", "starlette") == []


def test_services_import_neither_fastapi_nor_routes_nor_the_composition_root() -> None:
    assert (
        _violations(SERVICES, "fastapi", "starlette", "api.routes", "api.pages", "api.gateway", "api.deps")
        == []
    )


@pytest.mark.parametrize("route", [m for m in ROUTES if m.startswith("api.routes")])
def test_a_route_imports_no_other_route_and_no_web3(route: str) -> None:
    others = [m for m in _in("api.routes") if m not in (route, "api.routes")]
    assert _violations([route], *others, "web3", "eth_account") == []


def test_the_pages_call_no_route() -> None:
    assert _violations(_in("api.pages"), *[m for m in _in("api.routes") if m != "api.routes"]) == []


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle in `graph`, if any (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_api_has_no_import_circle() -> None:
    api = _in("api")
    # A package's __init__ re-exporting its submodules is not a circle: edges into a package mean
    # its __init__ only, and submodules importing siblings do not go through it.
    graph = {m: {i for i in _imports(m) if i in api and i != m and not _is(m, i)} for m in api}
    assert _cycle(graph) is None


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_package_imports_the_developer_scripts() -> None:
    # `allmende bench` runs `python -m scripts.bench` in a source checkout, as a separate process.
    found = {(m, i) for m in MODULES for i in _imports(m) if _is(i, "scripts")}
    assert found == set()
