"""The server's layers, checked from the source: no import runs up a layer, and none forms a circle.

domain ← services ← api, with adapters (and the sandbox, which implements an adapter) below the services.
The read side (queries) sits beside the services, over the domain and the adapters' tables; web holds what
the two front ends render alike; the console is a front end beside the API and takes from it only the named
helpers below. ``runtime`` and ``clock`` are shared plumbing; ``bootstrap`` (the composition root), the app
factory and the CLI may wire anything. See docs/architecture.md.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "mobile_api"

_BELOW_THE_FRONT_ENDS = {"services", "queries", "runtime", "adapters", "domain", "clock"}
# layer -> the layers it may import (itself always allowed)
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "clock": set(),
    "adapters": {"domain", "clock"},
    "sandbox": {"adapters", "domain", "clock"},
    "runtime": {"adapters", "domain", "clock"},
    "queries": {"runtime", "adapters", "domain", "clock"},
    "services": {"queries", "runtime", "adapters", "domain", "clock"},
    "web": _BELOW_THE_FRONT_ENDS,
    "api": _BELOW_THE_FRONT_ENDS | {"web"},
    "console": _BELOW_THE_FRONT_ENDS | {"web"},
}
# What the console may take from the API, by name; any other console → api import fails like an upward one.
CONSOLE_USES_OF_API: dict[str, set[str]] = {
    # The one definition of valid input: a console form refuses exactly what the API refuses.
    "mobile_api.api.auth.schemas": {"LoginSchema"},
    "mobile_api.api.clients.schemas": {"ClientCreateSchema", "CredentialCreateSchema"},
    "mobile_api.api.consent_links.schemas": {"LinkCreateSchema"},
    "mobile_api.api.devices.schemas": {"DeviceCreateSchema"},
    "mobile_api.api.institution.schemas": {"InstitutionNameSchema", "VisualPasswordSchema"},
    "mobile_api.api.staff.schemas": {"StaffCreateSchema"},
    "mobile_api.api.fields": {"MAX_OFFSET", "MAX_YEAR", "MIN_YEAR", "outside_text"},
    # A refused read of patient data is audited the same way from both front ends (docs/rules.md §2.3).
    "mobile_api.api.core": {"patient_data_refusals_audited"},
    # The one renderer of problem+json, for an error that is not a console page.
    "mobile_api.api.problems": {"from_http_exception"},
}
# Libraries that belong to one layer only: the domain stays free of the web and the database.
FORBIDDEN_LIBRARIES = {"domain": ("flask", "sqlalchemy", "flask_smorest", "marshmallow", "alembic", "psycopg")}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "mobile_api" else None


def _imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def _console_may_use(target: str) -> bool:
    """``target`` is a module the console may import from, or a name it may take from one."""
    module, _, name = target.rpartition(".")
    return target in CONSOLE_USES_OF_API or name in CONSOLE_USES_OF_API.get(module, set())


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", [p for p in SOURCES if "migrations" not in p.parts], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_import_runs_up_a_layer(path: Path) -> None:
    layer = _layer(_module_name(path))
    if layer not in ALLOWED:
        return  # bootstrap, the app factory, cli, config, keys: the wiring may see every layer
    wrong = []
    for target in _imports(path):
        target_layer = _layer(target)
        if (target.startswith("mobile_api.") and target_layer and target_layer != layer
                and not (layer == "console" and target_layer == "api" and _console_may_use(target))
                and target_layer not in ALLOWED[layer] and target_layer in ALLOWED | {"bootstrap": set()}):
            wrong.append(target)
        for library in FORBIDDEN_LIBRARIES.get(layer, ()):
            if target == library or target.startswith(library + "."):
                wrong.append(target)
    assert not wrong, f"{path.relative_to(ROOT)} ({layer}) imports {sorted(set(wrong))}"


def test_no_import_cycles_between_modules() -> None:
    modules = {_module_name(p): p for p in SOURCES if "migrations" not in p.parts}
    graph = {name: {t for t in _imports(path, top_level_only=True) if t in modules and t != name}
             for name, path in modules.items()}
    # A package's __init__ importing its own submodules is how packages are assembled, not a cycle.
    for name in graph:
        graph[name] = {t for t in graph[name] if not t.startswith(name + ".")}
    visiting: set[str] = set()
    done: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        visiting.add(node)
        for nxt in sorted(graph[node]):
            if nxt in visiting:
                cycles.append(trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt])
            elif nxt not in done:
                visit(nxt, trail + [nxt])
        visiting.discard(node)
        done.add(node)

    for start in sorted(graph):
        if start not in done:
            visit(start, [start])
    assert not cycles, cycles


def test_the_console_takes_from_the_api_only_what_it_shares_by_name() -> None:
    """The console is checked as a layer: a page that dumped through an API schema again would fail here."""
    uses = {t for p in (PACKAGE / "console").rglob("*.py") for t in _imports(p) if _layer(t) == "api"}
    assert uses and all(_console_may_use(t) for t in uses), sorted(t for t in uses if not _console_may_use(t))
    assert not _console_may_use("mobile_api.api.visits.schemas.VisitSchema")
