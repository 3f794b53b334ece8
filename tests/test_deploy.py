"""The deployment files: Kubernetes manifests validated against the Kubernetes API schemas
(kubernetes-validate, strict: an unknown field is an error), and the Dockerfile, .dockerignore and
docker-compose.yml checked for what the README promises. The image itself is built and run in
test_container.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate import utils as kv

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "kubernetes"
# The oldest Kubernetes still commonly run, and the newest the validator knows.
K8S_VERSIONS = ("1.29.0", kv.latest_version())
SETTINGS = {name.upper() for name in Settings.model_fields}


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object in deploy/kubernetes by kind (one object of each kind there)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in documents(path):
            assert doc["kind"] not in found, f"two {doc['kind']}s"
            found[doc["kind"]] = doc
    return found


def container() -> dict[str, Any]:
    containers = manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


def env(c: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in c.get("env", [])}


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


# Kubernetes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"))
def test_manifest_is_valid_kubernetes(path: str, version: str):
    docs = documents(K8S / path)
    assert docs, f"{path} is empty"
    for doc in docs:
        kv.validate(doc, version, strict=True)  # raises ValidationError or SchemaNotFoundError


def test_validator_rejects_a_broken_manifest():
    broken = manifests()["Deployment"]
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kv.ValidationError):
        kv.validate(broken, K8S_VERSIONS[0], strict=True)
    typo = manifests()["Deployment"]
    typo["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kv.ValidationError):
        kv.validate(typo, K8S_VERSIONS[0], strict=True)


def test_kustomization_lists_the_manifests_but_not_the_templates():
    kustomization = documents(K8S / "kustomization.yaml")[0]
    listed = set(kustomization["resources"])
    for name in listed:
        assert (K8S / name).is_file(), name
    templates = {p.name for p in K8S.glob("*.example.yaml")}
    assert templates == {"secret.example.yaml", "ingress.example.yaml"}
    assert listed == {p.name for p in K8S.glob("*.yaml")} - templates - {"kustomization.yaml"}


def test_deployment_runs_two_http_replicas_with_probes_on_the_bot_port():
    deployment = manifests()["Deployment"]
    assert deployment["spec"]["replicas"] == 2
    c = container()
    settings = env(c)
    assert settings["SLACK_MODE"] == "http"
    assert settings["LOG_FORMAT"] == "json"
    port = int(settings["PORT"])
    (declared,) = c["ports"]
    assert declared["containerPort"] == port and declared["name"] == "http"
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert c["args"] == ["serve"]
    assert {"cpu", "memory"} <= c["resources"]["requests"].keys()
    assert "memory" in c["resources"]["limits"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics" and int(annotations["prometheus.io/port"]) == port


def test_deployment_is_non_root_with_a_read_only_root_filesystem():
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    c = container()
    uid = int(re.search(r"^ARG UID=(\d+)$", dockerfile(), re.M).group(1))  # type: ignore[union-attr]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == uid != 0
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert sc["runAsUser"] == uid
    # The only writable places: /tmp, and /data for the (SQLite) ledger, as in the image.
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert mounts == {"/tmp", "/data"}
    assert all("emptyDir" in v for v in pod["volumes"])
    assert pod["automountServiceAccountToken"] is False


def test_termination_leaves_time_for_sends_in_flight():
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    c = container()
    pre_stop = c["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    grace = float(env(c)["SHUTDOWN_GRACE_SECONDS"])
    # preStop, then the bot's own grace, then up to 5 s for uvicorn to finish HTTP requests.
    assert pod["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + grace + 5


def test_service_secret_and_ingress_fit_the_deployment():
    objects = manifests()
    deployment, service, secret = objects["Deployment"], objects["Service"], objects["Secret"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()

    (source,) = container()["envFrom"]
    assert source["secretRef"]["name"] == secret["metadata"]["name"]
    keys = set(secret["stringData"])
    assert keys <= SETTINGS, keys - SETTINGS
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SOCIOCS_API_KEY", "DATABASE_URL"} <= keys
    assert "SLACK_APP_TOKEN" not in keys  # several replicas: HTTP mode
    assert secret["stringData"]["DATABASE_URL"].startswith("postgresql")
    assert set(env(container())) <= SETTINGS, set(env(container())) - SETTINGS

    # Only Slack's request URL and the Sociocs webhook are published; health and metrics stay inside.
    paths = [p for rule in objects["Ingress"]["spec"]["rules"] for p in rule["http"]["paths"]]
    assert [(p["path"], p["pathType"]) for p in paths] == [("/slack/events", "Exact"), ("/sociocs/webhook", "Exact")]
    assert {p["backend"]["service"]["name"] for p in paths} == {service["metadata"]["name"]}


# The image ------------------------------------------------------------------------------------------


def test_dockerfile_takes_its_base_from_a_build_argument_and_builds_in_two_stages():
    text = dockerfile()
    before_first_from = text.split("\nFROM ", 1)[0]
    assert re.search(r"^ARG BASE_IMAGE=python:3\.\d+-slim", before_first_from, re.M)
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert froms == ["${BASE_IMAGE}", "${BASE_IMAGE}"]
    final = text.rsplit("\nFROM ", 1)[1]
    assert "COPY --from=build /opt/venv /opt/venv" in final
    assert "pip install" not in final and "apt-get" not in final  # nothing is built in the final stage
    assert re.search(r"^USER \$\{UID\}:\$\{UID\}$", final, re.M)
    assert re.search(r'^VOLUME \["/data"\]$', final, re.M)
    assert re.search(r"^EXPOSE 3000$", final, re.M)
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", final, re.M)
    assert 'ENTRYPOINT ["sociocs-bot"]' in final
    assert "DATABASE_URL=sqlite:////data/" in final


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_build():
    lines = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()]
    rules = [ln for ln in lines if ln and not ln.startswith("#")]
    # Everything is ignored except what the build copies: .env, .git, .venv and data never reach it.
    assert rules[0] == "*"
    assert {r for r in rules if r.startswith("!")} == {"!pyproject.toml", "!README.md", "!bot/"}


# Compose --------------------------------------------------------------------------------------------


def test_compose_runs_the_bot_with_env_file_and_its_data_volume():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    bot = compose["services"]["bot"]
    assert bot["env_file"] == ".env"
    assert bot["build"]["context"] == "."
    assert "BASE_IMAGE" in bot["build"]["args"]
    assert "bot-data:/data" in bot["volumes"] and "bot-data" in compose["volumes"]
    assert "profiles" not in bot  # `docker compose up` starts it
    assert bot["environment"]["HOST"] == "0.0.0.0"
    assert bot["read_only"] is True
    assert set(bot["environment"]) <= SETTINGS
    grace = re.fullmatch(r"(\d+)s", bot["stop_grace_period"])
    assert grace and int(grace.group(1)) >= Settings.model_fields["shutdown_grace_seconds"].default + 5


def test_compose_postgres_profile_is_what_database_url_points_at():
    text = (ROOT / "docker-compose.yml").read_text()
    compose = yaml.safe_load(text)
    postgres = compose["services"]["postgres"]
    assert postgres["profiles"] == ["postgres"]
    assert compose["services"]["bot"]["depends_on"]["postgres"] == {"condition": "service_healthy", "required": False}
    db, user = postgres["environment"]["POSTGRES_DB"], postgres["environment"]["POSTGRES_USER"]
    (url,) = re.findall(r"DATABASE_URL=(\S+)", text)
    assert url == f"postgresql://{user}:sociocs@postgres:5432/{db}"
    assert "COMPOSE_PROFILES=postgres" in text
    Settings(database_url=url)  # a URL the bot accepts
