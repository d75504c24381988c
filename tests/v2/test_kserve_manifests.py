"""deploy/kserve: the ClusterServingRuntime and InferenceService validate against KServe's own
CRD schemas (shared/schemas/kserve), name no field the API server would drop, and agree with
the server they run: its flags, its V2 health paths, its protocols."""

import copy
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from service.front.config import build_parser

ROOT = Path(__file__).resolve().parents[2]
KSERVE = ROOT / "deploy" / "kserve"
SCHEMAS = ROOT.parent / "shared" / "schemas" / "kserve"
CRDS = {
    "ClusterServingRuntime": "serving.kserve.io_clusterservingruntimes.yaml",
    "InferenceService": "serving.kserve.io_inferenceservices.yaml",
}


def manifest(name: str) -> dict[str, Any]:
    return yaml.safe_load((KSERVE / name).read_text())


def runtime() -> dict[str, Any]:
    return manifest("clusterservingruntime.yaml")


def inference_service() -> dict[str, Any]:
    return manifest("inferenceservice.yaml")


def crd_schema(kind: str, api_version: str) -> dict[str, Any]:
    """The openAPIV3Schema the CRD serves for `api_version`."""
    crd = yaml.safe_load((SCHEMAS / CRDS[kind]).read_text())
    group = crd["spec"]["group"]
    assert crd["spec"]["names"]["kind"] == kind
    for version in crd["spec"]["versions"]:
        if f"{group}/{version['name']}" == api_version and version["served"]:
            return version["schema"]["openAPIV3Schema"]
    raise AssertionError(f"{CRDS[kind]} serves no {api_version}")


def pruned_fields(value: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    """The fields the API server would silently drop: those no schema declares (a structural
    schema prunes unknown fields instead of refusing them)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    if isinstance(value, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if properties is None and extra is None:
            return []  # free-form here (metadata is checked by the API server itself)
        dropped = []
        for key, item in value.items():
            if properties and key in properties:
                dropped += pruned_fields(item, properties[key], f"{where}.{key}")
            elif isinstance(extra, dict):
                dropped += pruned_fields(item, extra, f"{where}.{key}")
            elif extra is not True:
                dropped.append(f"{where}.{key}")
        return dropped
    if isinstance(value, list) and "items" in schema:
        return [
            field
            for index, item in enumerate(value)
            for field in pruned_fields(item, schema["items"], f"{where}[{index}]")
        ]
    return []


def problems(document: dict[str, Any]) -> list[str]:
    schema = crd_schema(document["kind"], document["apiVersion"])
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    return errors + [f"{f}: not in the schema" for f in pruned_fields(document, schema)]


@pytest.mark.parametrize("name", ["clusterservingruntime.yaml", "inferenceservice.yaml"])
def test_manifest_validates_against_kserves_crd_schema(name: str) -> None:
    assert problems(manifest(name)) == []


def test_validation_catches_a_misspelt_field_and_a_wrong_type() -> None:
    misspelt = runtime()
    misspelt["spec"]["containers"][0]["argz"] = misspelt["spec"]["containers"][0]["args"]
    assert problems(misspelt) == [".spec.containers[0].argz: not in the schema"]
    wrong_type = copy.deepcopy(runtime())
    wrong_type["spec"]["containers"][0]["ports"][0]["containerPort"] = "8080"
    assert any("containerPort" in p or "8080" in p for p in problems(wrong_type))
    no_model = inference_service()
    del no_model["spec"]["predictor"]
    assert problems(no_model)


def test_runtime_serves_both_formats_and_all_three_protocols() -> None:
    spec = runtime()["spec"]
    assert {f["name"] for f in spec["supportedModelFormats"]} == {"tensorflow", "tflite"}
    assert spec["protocolVersions"] == ["v1", "v2", "grpc-v2"]
    annotations = runtime()["metadata"]["annotations"]
    assert annotations["prometheus.kserve.io/path"] == "/metrics"
    assert annotations["prometheus.kserve.io/port"] == "8080"


def test_runtime_container_runs_blockserve_with_flags_it_has() -> None:
    (container,) = runtime()["spec"]["containers"]
    assert container["name"] == "kserve-container"  # the name KServe injects storage into
    args = [a.replace("{{.Name}}", "half-plus-two") for a in container["args"]]
    parsed = build_parser().parse_args(args)  # exits on a flag the server does not have
    assert parsed.model_base_path == "/mnt/models"
    assert parsed.rest_api_port == container["ports"][0]["containerPort"] == 8080
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == parsed.rest_api_port


def test_inference_service_uses_the_runtime_with_a_format_and_protocol_it_serves() -> None:
    model = inference_service()["spec"]["predictor"]["model"]
    spec = runtime()["spec"]
    assert model["runtime"] == runtime()["metadata"]["name"]
    formats = {(f["name"], f.get("version")) for f in spec["supportedModelFormats"]}
    assert (model["modelFormat"]["name"], model["modelFormat"].get("version")) in formats
    assert model["protocolVersion"] in spec["protocolVersions"]
