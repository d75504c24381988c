"""deploy/k8s: valid for current Kubernetes, and consistent with the image and the model export."""

import re
from pathlib import Path

import pytest

from tests.deploy.conftest import (
    K8S,
    flag,
    load_yaml,
    load_yaml_documents,
    run,
    seed_model_names,
    venv_tool,
)

# The newest Kubernetes kubernetes-validate knows, and the oldest still maintained upstream.
KUBERNETES_VERSIONS = ("1.37.0", "1.34.0")


def manifests() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def resources() -> dict[str, dict]:
    """Every manifest's documents by `Kind/name`."""
    return {
        f"{doc['kind']}/{doc['metadata']['name']}": doc
        for path in manifests()
        for doc in load_yaml_documents(path)
    }


def deployment() -> dict:
    return resources()["Deployment/blockserve"]


def pod() -> dict:
    return deployment()["spec"]["template"]["spec"]


def container(name: str) -> dict:
    (found,) = [c for c in pod()["containers"] + pod()["initContainers"] if c["name"] == name]
    return found


def mounts(c: dict) -> dict[str, str]:
    return {m["name"]: m["mountPath"] for m in c["volumeMounts"]}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_pass_strict_kubernetes_validation(version: str) -> None:
    result = run(venv_tool("kubernetes-validate"), "--strict", "-k", version, *manifests())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout + result.stderr


def test_strict_validation_rejects_a_misspelt_field(tmp_path: Path) -> None:
    broken = tmp_path / "deployment.yaml"
    broken.write_text((K8S / "deployment.yaml").read_text().replace("failureThreshold", "failures"))
    result = run(venv_tool("kubernetes-validate"), "--strict", broken)
    assert result.returncode != 0


def test_kustomization_lists_every_manifest() -> None:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    assert sorted(kustomization["resources"]) == [p.name for p in manifests()]


def test_manifests_hold_the_resources_of_issue_5() -> None:
    kinds = {(doc["apiVersion"], doc["kind"]) for doc in resources().values()}
    assert kinds == {
        ("v1", "ConfigMap"),
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("policy/v1", "PodDisruptionBudget"),
    }


def test_config_map_points_every_seed_model_at_the_init_containers_export() -> None:
    config = resources()["ConfigMap/blockserve-models"]["data"]["models.config"]
    entries = re.findall(r'name:\s*"(\w+)"\s*base_path:\s*"([^"]+)"', config)
    export = container("export")
    output_dir = flag(export["args"], "--output-dir")
    assert "--skip-existing" in export["args"]
    assert sorted(name for name, _ in entries) == sorted(seed_model_names())
    assert all(path == f"{output_dir}/{name}" for name, path in entries)
    # The server sees the exported folder at the same path the export wrote it to.
    assert mounts(export)["models"] == mounts(container("server"))["models"] == output_dir
    volumes = {v["name"]: v for v in pod()["volumes"]}
    assert "emptyDir" in volumes["models"]


def test_server_reads_the_model_config_from_the_config_map() -> None:
    server = container("server")
    config_path = Path(flag(server["args"], "--model_config_file"))
    volumes = {v["name"]: v for v in pod()["volumes"]}
    (volume,) = [n for n, path in mounts(server).items() if path == str(config_path.parent)]
    assert volumes[volume]["configMap"]["name"] == "blockserve-models"
    assert config_path.name in resources()["ConfigMap/blockserve-models"]["data"]


def test_probes_ask_readyz_for_traffic_and_healthz_for_liveness() -> None:
    server = container("server")
    ports = {p["name"]: p["containerPort"] for p in server["ports"]}
    assert ports == {
        "grpc": int(flag(server["args"], "--port")),
        "http": int(flag(server["args"], "--rest_api_port")),
    }
    assert server["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert server["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    for c in (server, container("export")):
        assert {"requests", "limits"} <= set(c["resources"]), c["name"]


def test_pods_get_time_to_drain_before_they_are_killed() -> None:
    server = container("server")
    drain = int(flag(server["args"], "--shutdown_grace_seconds"))
    pre_stop = server["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert pod()["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + drain + 5


def test_services_expose_grpc_and_http_of_the_pods() -> None:
    labels = deployment()["spec"]["template"]["metadata"]["labels"]
    services = [doc for doc in resources().values() if doc["kind"] == "Service"]
    assert services
    for service in services:
        assert service["spec"]["selector"].items() <= labels.items()
        ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
        assert ports == {"grpc": (8500, "grpc"), "http": (8501, "http")}


def test_autoscaler_and_disruption_budget_cover_the_deployment() -> None:
    docs = resources()
    labels = deployment()["spec"]["template"]["metadata"]["labels"]
    hpa = docs["HorizontalPodAutoscaler/blockserve"]["spec"]
    pdb = docs["PodDisruptionBudget/blockserve"]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "blockserve",
    }
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert deployment()["spec"]["selector"]["matchLabels"].items() <= labels.items()
    # The budget must leave a pod standing at the autoscaler's smallest size.
    assert hpa["minReplicas"] - pdb["maxUnavailable"] >= 1
    assert "replicas" not in deployment()["spec"], "the autoscaler owns the replica count"
