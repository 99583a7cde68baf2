"""deploy/ cannot run here (no Docker, no cluster), so check what can be checked from the files: they parse,
the probes and health checks point at the app's real endpoints, the image runs as non-root with only the
server's dependencies, the commands exist, and no secret value is in the repository."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mobile_api import create_app

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
K8S = DEPLOY / "k8s"


class _StrictLoader(yaml.SafeLoader):
    """Refuses a key given twice in one mapping (PyYAML keeps the last silently; Docker and kubectl may not)."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    keys = [key.value for key, _ in node.value
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge"]
    duplicates = {k for k in keys if keys.count(k) > 1}
    if duplicates:
        raise AssertionError(f"duplicate keys {sorted(map(str, duplicates))} at line {node.start_mark.line + 1}")
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_StrictLoader) if d]


@pytest.fixture(scope="module")
def manifests() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in _docs(path):
            found[(doc["kind"], doc.get("metadata", {}).get("name", ""))] = doc
    return found


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('deploy') / 'x.sqlite3'}"
    app = create_app({"DATABASE_URL": url, "JWT_KEYS": {"k": "9e-Eg3YIMFsdUott1KW8mFx2syZvSSR_8ELlj5ABOYwtSpgSSacAt95ksgsgmHPo"},
                      "JWT_ACTIVE_KID": "k", "JOBS_EMBEDDED_WORKERS": 0})
    return {rule.rule for rule in app.url_map.iter_rules()}


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"] if doc["kind"] in ("Deployment", "Job") else {}
    return spec.get("containers", [])


def test_every_kustomization_resource_exists_and_parses(manifests) -> None:  # type: ignore[no-untyped-def]
    kustomization = _docs(K8S / "kustomization.yaml")[0]
    for resource in kustomization["resources"]:
        assert (K8S / resource).is_file(), resource
    kinds = {kind for kind, _ in manifests}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "Job", "PodDisruptionBudget",
            "ConfigMap"} <= kinds


def test_api_probes_point_at_the_real_health_endpoints(manifests, routes) -> None:  # type: ignore[no-untyped-def]
    (api,) = _containers(manifests[("Deployment", "mobile-oqs-api")])
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"/healthz", "/readyz", "/metrics"} <= routes
    port_names = {p["name"]: p["containerPort"] for p in api["ports"]}
    assert port_names[api["readinessProbe"]["httpGet"]["port"]] == 8000


def test_hpa_pdb_and_service_select_the_api(manifests) -> None:  # type: ignore[no-untyped-def]
    labels = manifests[("Deployment", "mobile-oqs-api")]["spec"]["template"]["metadata"]["labels"]
    assert manifests[("HorizontalPodAutoscaler", "mobile-oqs-api")]["spec"]["scaleTargetRef"]["name"] == "mobile-oqs-api"
    for kind in ("PodDisruptionBudget",):
        assert manifests[(kind, "mobile-oqs-api")]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert manifests[("Service", "mobile-oqs-api")]["spec"]["selector"].items() <= labels.items()


def test_secrets_are_references_only(manifests) -> None:  # type: ignore[no-untyped-def]
    assert not [name for kind, name in manifests if kind == "Secret"]
    for doc in manifests.values():
        for container in _containers(doc):
            for env in container.get("env", []):
                if env["name"] in ("DATABASE_URL", "MOBILE_API_JWT_KEYS"):
                    assert "value" not in env and env["valueFrom"]["secretKeyRef"]["name"] == "mobile-oqs-secrets"
    for path in [*K8S.glob("*.yaml"), DEPLOY / "compose.yaml"]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"postgres(ql)?://[^:\s]+:[^@\s]+@", text), path  # no password in a URL


def test_every_pod_runs_as_non_root(manifests) -> None:  # type: ignore[no-untyped-def]
    for doc in manifests.values():
        if doc["kind"] in ("Deployment", "Job"):
            assert doc["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_the_commands_exist(manifests) -> None:  # type: ignore[no-untyped-def]
    from mobile_api.cli import jobs_cli
    from mobile_api.sandbox import server

    assert "worker" in jobs_cli.commands and callable(server.create_app)
    commands = [c.get("command") for doc in manifests.values() for c in _containers(doc)]
    assert ["flask", "--app", "mobile_api", "db", "upgrade"] in commands
    assert ["flask", "--app", "mobile_api", "jobs", "worker"] in commands


def test_compose_has_the_topology_and_checks_readiness(routes) -> None:  # type: ignore[no-untyped-def]
    compose = _docs(DEPLOY / "compose.yaml")[0]
    services = compose["services"]
    assert {"db", "migrate", "api", "oqs-sandbox", "jobs", "proxy"} <= set(services)
    assert services["migrate"]["restart"] == "no"
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["api"]["environment"]["MOBILE_API_OQS_BACKEND"] == "http"
    assert services["jobs"]["command"] == ["flask", "--app", "mobile_api", "jobs", "worker"]
    # Rate-limit counters shared by every worker (memory:// would count per process).
    assert "redis" in services
    assert services["api"]["environment"]["MOBILE_API_RATE_LIMIT_STORAGE_URL"].startswith("redis://redis:")
    nginx = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert "listen 443 ssl" in nginx and "ssl_certificate" in nginx


def test_dockerfile_is_multi_stage_non_root_and_installs_only_the_server_extra() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    assert "COPY --from=build" in text
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and not user[-1].startswith(("root", "0"))
    assert "'.[server]'" in text and ".[test]" not in text and ".[agent]" not in text
    assert "/healthz" in text


def test_gunicorn_builds_an_access_line_only_when_its_logging_would_write_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/gunicorn.conf.py's logger: the access-log fields (~15 µs a request) are built only for a logger that
    writes them; gunicorn's own builds them whenever a logging config is set and then drops the line."""
    import logging
    import runpy

    from gunicorn.config import Config

    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert conf["logconfig_dict"]["loggers"]["gunicorn.access"]["level"] == "WARNING"  # the deployed setting
    logger = conf["logger_class"](Config())
    configured = Config()
    configured.set("logconfig_dict", conf["logconfig_dict"])
    logger.cfg = configured  # as under gunicorn, without applying the config to this test process
    built: list[Any] = []
    monkeypatch.setattr(logger, "atoms", lambda *args: built.append(args) or {})
    level = logger.access_log.level
    try:
        logger.access_log.setLevel(logging.WARNING)
        logger.access(None, None, {}, None)
        assert built == []
        logger.access_log.setLevel(logging.INFO)  # an operator who wants the access log
        logger.access(None, None, {}, None)
        assert len(built) == 1
    finally:
        logger.access_log.setLevel(level)
