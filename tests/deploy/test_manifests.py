"""The deployment files under ``deploy/`` agree with the code they deploy.

None of them can be built or applied here (no Docker engine, no cluster), so these tests
check what can be checked statically: every YAML file parses; every ``VSTAGE_*``
variable they set is a real setting (and the example configurations pass the settings'
own validation); every ``vstage`` command they run exists with those options; the
Kubernetes objects reference each other correctly; the worker's SIGTERM grace fits in
the orchestrator's kill timeout; the Grafana dashboard queries only ``vstage_`` metrics;
the Dockerfile builds CPU and CUDA variants.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from tests.deploy.cli_args import BadCommandLine, check_vstage_args
from vstage.config import Settings, load_settings
from vstage.config_docs import env_name

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
DASHBOARD = DEPLOY / "grafana" / "vstage-dashboard.json"

SETTINGS_ENV = {env_name(name, info): name for name, info in Settings.model_fields.items()}
VSTAGE_VAR = re.compile(r"^VSTAGE_[A-Z0-9_]+$")
LIST_ASSIGNMENT = re.compile(r"^(VSTAGE_[A-Z0-9_]+)=")


# ---- helpers ------------------------------------------------------------------------


def yaml_files() -> list[Path]:
    return sorted([*DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")])


def documents(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def variables_set(document: Any) -> set[str]:
    """``VSTAGE_*`` names a document assigns: mapping keys (compose ``environment``,
    ConfigMap ``data``, Secret ``stringData``), Kubernetes ``env`` entries and
    ``KEY=value`` list items."""
    found: set[str] = set()
    for node in walk(document):
        if isinstance(node, dict):
            found.update(key for key in node if isinstance(key, str) and VSTAGE_VAR.match(key))
            name = node.get("name")
            if (
                isinstance(name, str)
                and VSTAGE_VAR.match(name)
                and ("value" in node or "valueFrom" in node)
            ):
                found.add(name)
        elif isinstance(node, str) and (match := LIST_ASSIGNMENT.match(node)):
            found.add(match.group(1))
    return found


def k8s_objects() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            objects += [doc for doc in documents(path) if isinstance(doc, dict) and "kind" in doc]
    return objects


def k8s_object(kind: str, name: str) -> dict[str, Any]:
    for obj in k8s_objects():
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise AssertionError(f"deploy/k8s has no {kind} {name}")


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


def container(obj: dict[str, Any], name: str) -> dict[str, Any]:
    for item in pod_spec(obj)["containers"]:
        if item["name"] == name:
            found: dict[str, Any] = item
            return found
    raise AssertionError(f"{obj['metadata']['name']} has no container {name}")


def is_vstage_image(image: str) -> bool:
    return "vstage" in image.rsplit("/", 1)[-1]


def as_argv(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(item) for item in value]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    pairs = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        pairs.append((keyword.upper(), rest.strip()))
    return pairs


def dockerfile_default_cmd() -> list[str]:
    cmds = [json.loads(rest) for keyword, rest in dockerfile_instructions() if keyword == "CMD"]
    return [str(arg) for arg in cmds[-1]]


def vstage_command_lines() -> list[tuple[str, list[str]]]:
    """Every ``vstage`` invocation in the deployment files, as (where, argv after vstage)."""
    found: list[tuple[str, list[str]]] = [("Dockerfile CMD", dockerfile_default_cmd())]
    compose = documents(COMPOSE)[0]
    for name, service in compose["services"].items():
        if not is_vstage_image(str(service.get("image", ""))) or "entrypoint" in service:
            continue  # not our image, or it runs something else than `vstage`
        argv = as_argv(service.get("command")) or dockerfile_default_cmd()
        found.append((f"compose service {name}", argv))
    for obj in k8s_objects():
        template = obj.get("spec", {}).get("template", {}).get("spec", {})
        for item in [*template.get("initContainers", []), *template.get("containers", [])]:
            if not is_vstage_image(str(item.get("image", ""))):
                continue
            command = as_argv(item.get("command"))
            assert command in ([], ["vstage"]), (
                f"{obj['metadata']['name']}/{item['name']}: command must be unset or vstage"
            )
            argv = as_argv(item.get("args")) or ([] if command else dockerfile_default_cmd())
            found.append((f"k8s {obj['kind']} {obj['metadata']['name']}/{item['name']}", argv))
    return found


def interpolate(value: str, env: dict[str, str]) -> str:
    """Docker Compose variable substitution, enough for our file: ``${VAR}``,
    ``${VAR:-default}``, ``${VAR:?message}`` and ``$$``."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, rest = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if operator == ":-":
            return rest or ""
        if operator == ":?":
            raise AssertionError(f"compose needs {name}: {rest}")
        return ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", substitute, value).replace("$$", "$")


def env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def settings_from(variables: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Load settings from exactly these ``VSTAGE_*`` variables, as the program does at
    start (raises :class:`ConfigError` with the one line an operator would see)."""
    for key in [key for key in os.environ if key.startswith("VSTAGE_")]:
        monkeypatch.delenv(key)
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    return load_settings()


# ---- every YAML file ------------------------------------------------------------------


def test_deploy_has_the_expected_files() -> None:
    names = {path.relative_to(DEPLOY).as_posix() for path in DEPLOY.rglob("*") if path.is_file()}
    assert {
        "Dockerfile",
        "docker-compose.yml",
        "k8s/kustomization.yaml",
        "k8s/api.yaml",
        "k8s/worker.yaml",
        "k8s/migrate-job.yaml",
        "grafana/vstage-dashboard.json",
    } <= names


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: p.relative_to(DEPLOY).as_posix())
def test_yaml_file_parses_and_sets_only_real_settings(path: Path) -> None:
    docs = documents(path)
    assert docs, f"{path} is empty"
    unknown = sorted({name for doc in docs for name in variables_set(doc)} - SETTINGS_ENV.keys())
    assert not unknown, (
        f"{path.relative_to(ROOT)} sets {unknown}, which vstage.config.Settings does not "
        "define (a typo, or a setting that was renamed or removed)"
    )


def test_the_files_set_the_settings_a_production_deployment_needs() -> None:
    everywhere = {
        name for path in yaml_files() for doc in documents(path) for name in variables_set(doc)
    }
    for name in (
        "VSTAGE_DATABASE_URL",
        "VSTAGE_STORAGE_URL",
        "VSTAGE_S3_ENDPOINT_URL",
        "VSTAGE_AUTH_MODE",
        "VSTAGE_AUTH0_DOMAIN",
        "VSTAGE_AUTH0_AUDIENCE",
        "VSTAGE_SECRET_KEY",
        "VSTAGE_STRIPE_SECRET_KEY",
        "VSTAGE_STRIPE_WEBHOOK_SECRET",
        "VSTAGE_MODEL",
        "VSTAGE_LOG_FORMAT",
    ):
        assert name in everywhere, f"no deployment file sets {name}"


# ---- vstage commands -----------------------------------------------------------------


@pytest.mark.parametrize(("where", "argv"), vstage_command_lines(), ids=lambda v: str(v))
def test_every_vstage_command_exists_with_its_options(where: str, argv: list[str]) -> None:
    try:
        check_vstage_args(argv)
    except BadCommandLine as exc:
        pytest.fail(f"{where} runs `vstage {' '.join(argv)}`: {exc}")


def test_compose_and_kubernetes_run_api_worker_and_migrations() -> None:
    runs: dict[str, set[str]] = {"compose": set(), "k8s": set()}
    for where, argv in vstage_command_lines():
        kind = where.split()[0]
        if kind in runs:
            runs[kind].add(check_vstage_args(argv))
    assert runs["compose"] >= {"serve", "worker", "migrate"}
    assert runs["k8s"] >= {"serve", "worker", "migrate"}


# ---- docker compose ------------------------------------------------------------------


def test_compose_has_postgres_s3_api_and_worker() -> None:
    services = documents(COMPOSE)[0]["services"]
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["s3"]["image"].startswith("chrislusf/seaweedfs")
    assert "-s3" in " ".join(as_argv(services["s3"]["command"]))
    for name in ("api", "worker"):
        needs = services[name]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully"
        assert needs["s3-init"]["condition"] == "service_completed_successfully"


def test_compose_variables_are_all_in_the_env_example() -> None:
    referenced = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text(encoding="utf-8")))
    gpu = (DEPLOY / "docker-compose.gpu.yml").read_text(encoding="utf-8")
    referenced |= set(re.findall(r"\$\{(\w+)", gpu))
    missing = sorted(referenced - env_example().keys())
    assert not missing, f"deploy/.env.example lacks {missing}"


def test_compose_configuration_passes_settings_validation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = env_example()
    services = documents(COMPOSE)[0]["services"]
    for name in ("migrate", "api", "worker"):
        variables = {
            key: interpolate(str(value), env)
            for key, value in services[name]["environment"].items()
            if VSTAGE_VAR.match(key)
        }
        settings = settings_from(variables, monkeypatch)
        assert not settings.is_sqlite, f"compose {name} must use PostgreSQL"
        assert settings.auth_mode == "auth0"
        assert settings.storage_url.startswith("s3://")


def test_compose_waits_longer_than_the_worker_grace() -> None:
    worker = documents(COMPOSE)[0]["services"]["worker"]
    grace = float(worker["environment"]["VSTAGE_WORKER_SHUTDOWN_GRACE_SECONDS"])
    stop = worker["stop_grace_period"]
    assert stop.endswith("s")
    assert float(stop[:-1]) > grace


# ---- kubernetes ----------------------------------------------------------------------


def test_kustomization_lists_every_manifest_and_nothing_missing() -> None:
    kustomization = documents(K8S / "kustomization.yaml")[0]
    listed = set(kustomization["resources"])
    present = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def test_k8s_configuration_passes_settings_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    config = k8s_object("ConfigMap", "vstage-config")["data"]
    secret = k8s_object("Secret", "vstage-secrets")["stringData"]
    for deployment, name in (("vstage-api", "api"), ("vstage-worker", "worker")):
        overrides = {
            item["name"]: item["value"]
            for item in container(k8s_object("Deployment", deployment), name).get("env", [])
            if "value" in item
        }
        settings = settings_from({**config, **secret, **overrides}, monkeypatch)
        assert not settings.is_sqlite
        assert settings.auth_mode == "auth0"


def test_k8s_references_only_existing_configmaps_and_secrets() -> None:
    defined = {(obj["kind"], obj["metadata"]["name"]) for obj in k8s_objects()}
    for obj in k8s_objects():
        for node in walk(obj):
            if not isinstance(node, dict):
                continue
            for key, kind in (
                ("configMapRef", "ConfigMap"),
                ("configMapKeyRef", "ConfigMap"),
                ("secretRef", "Secret"),
                ("secretKeyRef", "Secret"),
            ):
                if key in node:
                    assert (kind, node[key]["name"]) in defined, (
                        f"{obj['metadata']['name']} refers to a missing {kind} {node[key]['name']}"
                    )


def test_api_probes_readiness_and_liveness() -> None:
    api = container(k8s_object("Deployment", "vstage-api"), "api")
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_api_is_behind_a_service_and_scaled_on_cpu() -> None:
    service = k8s_object("Service", "vstage-api")
    labels = k8s_object("Deployment", "vstage-api")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    hpa = k8s_object("HorizontalPodAutoscaler", "vstage-api")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "vstage-api",
    }
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]


def test_worker_gets_one_gpu_and_outlives_its_sigterm_grace() -> None:
    worker = k8s_object("Deployment", "vstage-worker")
    resources = container(worker, "worker")["resources"]
    assert resources["requests"]["nvidia.com/gpu"] == 1
    assert resources["limits"]["nvidia.com/gpu"] == 1
    grace = float(
        k8s_object("ConfigMap", "vstage-config")["data"]["VSTAGE_WORKER_SHUTDOWN_GRACE_SECONDS"]
    )
    assert grace > Settings.model_fields["worker_shutdown_grace_seconds"].default, (
        "GPU jobs take longer than the default grace; give them more"
    )
    assert pod_spec(worker)["terminationGracePeriodSeconds"] > grace, (
        "Kubernetes would SIGKILL the worker before its SIGTERM grace ends"
    )


def test_migration_job_runs_vstage_migrate() -> None:
    job = k8s_object("Job", "vstage-migrate")
    (migrate,) = pod_spec(job)["containers"]
    assert check_vstage_args(as_argv(migrate["args"])) == "migrate"
    assert pod_spec(job)["restartPolicy"] in ("OnFailure", "Never")


@pytest.mark.parametrize("name", ["vstage-api", "vstage-worker"])
def test_prometheus_scrapes_a_port_the_pod_exposes(name: str) -> None:
    deployment = k8s_object("Deployment", name)
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    ports = {
        str(port["containerPort"])
        for item in pod_spec(deployment)["containers"]
        for port in item.get("ports", [])
    }
    assert annotations["prometheus.io/port"] in ports


def test_pods_do_not_run_as_root() -> None:
    for obj in k8s_objects():
        if obj["kind"] in ("Deployment", "Job"):
            assert pod_spec(obj)["securityContext"]["runAsNonRoot"] is True, obj["metadata"]["name"]


# ---- grafana -------------------------------------------------------------------------

PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "and", "or", "unless", "offset", "inf", "nan", "le",
}  # fmt: skip
#: Metrics the dashboard charts that the engine is still to register (names agreed
#: with the engine's owners); every other name must be registered by vstage's code.
PLANNED_METRICS = {
    "vstage_engine_stage_seconds",
    "vstage_engine_drift_score",
    "vstage_engine_gpu_memory_bytes",
}


def dashboard_panels() -> list[dict[str, Any]]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    panels: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels += panel.get("panels", [])
    return panels


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (label matchers, groupings,
    ranges, strings, functions and keywords removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"(?<![A-Za-z0-9_:.])\d[\d.]*(?:[eE][-+]?\d+)?", "", text)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group(0)
        follows = text[match.end() :].lstrip()[:1]
        if follows == "(" or word.lower() in PROMQL_WORDS or text[: match.start()].endswith("$"):
            continue
        names.add(word)
    return names


def base_name(metric: str) -> str:
    return re.sub(r"_(bucket|sum|count)$", "", metric)


def dashboard_metrics() -> set[str]:
    return {
        name
        for panel in dashboard_panels()
        for target in panel.get("targets", [])
        for name in metric_names(target["expr"])
    }


def registered_metrics() -> set[str]:
    """Names vstage's modules register (counters under their ``_total`` name too).

    Metrics are declared in ``metrics.py`` / ``collectors.py`` modules; importing those
    registers them with the default registry.
    """
    from prometheus_client import REGISTRY

    src = ROOT / "src"
    for path in [*src.glob("vstage/**/metrics.py"), *src.glob("vstage/**/collectors.py")]:
        importlib.import_module(".".join(path.relative_to(src).with_suffix("").parts))
    names = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        if family.type == "counter":
            names.add(f"{family.name}_total")
    return names


def test_metric_name_extraction_understands_promql() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le, route) "
        '(rate(vstage_http_request_duration_seconds_bucket{status=~"5.."}[$__rate_interval])))'
        " / clamp_min(sum(vstage_queue_jobs), 1e-9)"
    )
    assert metric_names(expr) == {
        "vstage_http_request_duration_seconds_bucket",
        "vstage_queue_jobs",
    }


def test_dashboard_is_valid_grafana_json_with_prometheus_panels() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["title"]
    assert dashboard["uid"]
    assert isinstance(dashboard["schemaVersion"], int)
    ids = [panel["id"] for panel in dashboard_panels()]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dashboard_panels():
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys()
        for target in panel.get("targets", []):
            assert target["expr"].strip()
            assert target["refId"]


def test_dashboard_queries_only_vstage_metrics() -> None:
    foreign = sorted(name for name in dashboard_metrics() if not name.startswith("vstage_"))
    assert not foreign, f"the dashboard queries non-vstage metrics: {foreign}"


def test_dashboard_metrics_exist_or_are_planned() -> None:
    unknown = sorted(
        name
        for name in dashboard_metrics()
        if base_name(name) not in registered_metrics() | PLANNED_METRICS
    )
    assert not unknown, f"the dashboard queries metrics nothing registers: {unknown}"


def test_dashboard_covers_http_queue_jobs_and_engine() -> None:
    charted = {base_name(name) for name in dashboard_metrics()}
    assert {
        "vstage_http_requests_total",
        "vstage_http_request_duration_seconds",
        "vstage_queue_jobs",
        "vstage_queue_oldest_queued_seconds",
        "vstage_job_duration_seconds",
        "vstage_job_failures_total",
        "vstage_engine_stage_seconds",
        "vstage_engine_drift_score",
    } <= charted


# ---- dockerfile ----------------------------------------------------------------------


def stages() -> dict[str, str]:
    """Stage name → its FROM image."""
    found = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "FROM":
            image, _, name = rest.partition(" AS ")
            found[name.strip()] = image.strip()
    return found


def test_dockerfile_variant_arg_defaults_to_cpu() -> None:
    args = [rest for keyword, rest in dockerfile_instructions() if keyword == "ARG"]
    assert "VARIANT=cpu" in args


def test_dockerfile_has_a_cpu_and_a_cuda_base() -> None:
    found = stages()
    assert found["base-cpu"].startswith("python:3.11")
    cuda_image = found["base-cuda"]
    if cuda_image.startswith("${"):
        default = [
            rest.partition("=")[2]
            for keyword, rest in dockerfile_instructions()
            if keyword == "ARG" and rest.startswith(cuda_image[2:-1] + "=")
        ]
        cuda_image = default[0]
    assert cuda_image.startswith("nvidia/cuda:")
    assert found["build"] == "base-${VARIANT}"
    assert found["runtime"] == "base-${VARIANT}"


def test_dockerfile_installs_torch_for_the_variant_then_the_package() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "download.pytorch.org/whl/cpu" in text
    assert "download.pytorch.org/whl/${TORCH_CUDA}" in text
    runs = " ".join(rest for keyword, rest in dockerfile_instructions() if keyword == "RUN")
    assert "pip install -c constraints.txt '.[ml]'" in runs


def test_dockerfile_runs_vstage_as_a_non_root_user_with_a_healthcheck() -> None:
    instructions = dockerfile_instructions()
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users, "the image must switch to an unprivileged user"
    assert users[-1].split(":")[0] not in ("root", "0")
    (entrypoint,) = [json.loads(rest) for keyword, rest in instructions if keyword == "ENTRYPOINT"]
    assert entrypoint[-1] == "vstage"
    (healthcheck,) = [rest for keyword, rest in instructions if keyword == "HEALTHCHECK"]
    assert "/healthz" in healthcheck
