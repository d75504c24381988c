"""Every flag of tensorflow_model_server 2.21, with its syntax and default, and what it becomes."""

import logging
from pathlib import Path

import pytest

from service.front import config
from service.front.config import ConfigError, parse
from service.front.flags import CPUS, NO_EFFECT
from service.protos.blockserve.v1 import server_config_pb2
from service.protos.tensorflow.core.protobuf import config_pb2
from tests.service.conftest import run_service

BASE = ["--model_base_path=/models/m"]

# tensorflow_model_server 2.21's flags (model_servers/main.cc) and their defaults there.
TFSERVING_DEFAULTS: dict[str, object] = {
    "port": 8500,
    "grpc_socket_path": "",
    "rest_api_port": 0,
    "rest_api_num_threads": 0,
    "rest_api_timeout_in_ms": 30000,
    "rest_api_enable_cors_support": False,
    "enable_batching": False,
    "allow_version_labels_for_unavailable_models": False,
    "batching_parameters_file": "",
    "enable_per_model_batching_parameters": False,
    "model_config_file": "",
    "model_config_file_poll_wait_seconds": 0,
    "model_name": "default",
    "model_base_path": "",
    "num_load_threads": 0,
    "num_unload_threads": 0,
    "max_num_load_retries": 5,
    "load_retry_interval_micros": 60_000_000,
    "file_system_poll_wait_seconds": 1,
    "flush_filesystem_caches": True,
    "tensorflow_session_parallelism": 0,
    "tensorflow_session_config_file": "",
    "tensorflow_intra_op_parallelism": 0,
    "tensorflow_inter_op_parallelism": 0,
    "use_alts_credentials": False,
    "ssl_config_file": "",
    "platform_config_file": "",
    "per_process_gpu_memory_fraction": 0.0,
    "saved_model_tags": "serve",
    "grpc_channel_arguments": "",
    "grpc_max_threads": 0,
    "enable_model_warmup": True,
    "num_request_iterations_for_warmup": 0,
    "version": False,
    "monitoring_config_file": "",
    "remove_unused_fields_from_bundle_metagraph": True,
    "prefer_tflite_model": False,
    "num_tflite_pools": CPUS,
    "num_tflite_interpreters_per_pool": 1,
    "enable_signature_method_name_check": False,
    "xla_cpu_compilation_enabled": False,
    "xla_gpu_compilation_enabled": False,
    "enable_profiler": True,
    "thread_pool_factory_config_file": "",
    "mixed_precision": "",
    "skip_initialize_tpu": False,
    "enable_grpc_healthcheck_service": False,
    "enable_serialization_as_tensor_content": False,
}

# Where blockserve's default differs, on purpose (README: the lead's measurements, probes).
OUR_DEFAULTS = {
    "rest_api_port": 8501,  # REST on, as every deployment here uses it
    "tensorflow_intra_op_parallelism": 1,  # measured fastest per worker
    "tensorflow_inter_op_parallelism": 1,
    "enable_grpc_healthcheck_service": True,  # Kubernetes' gRPC probes need it
}

# A value of each flag's type other than its default, written as a user would.
SAMPLE_VALUES = {
    int: "3",
    float: "0.5",
    str: "x",
}


def namespace(argv: list[str]):
    return config.build_parser().parse_args(argv)


def test_there_are_48_tensorflow_model_server_flags() -> None:
    assert len(TFSERVING_DEFAULTS) == 48


@pytest.mark.parametrize("flag", sorted(TFSERVING_DEFAULTS))
def test_every_flag_takes_its_tensorflow_model_server_default(flag: str) -> None:
    parsed = namespace([])
    value = getattr(parsed, flag)
    want = OUR_DEFAULTS.get(flag, TFSERVING_DEFAULTS[flag])
    if flag == "grpc_channel_arguments":
        assert value == ()
    elif flag in ("model_name", "model_base_path"):
        assert value is None  # filled in from the environment, then the default (below)
    else:
        assert value == want and type(value) is type(want), (value, want)


@pytest.mark.parametrize(
    "flag", sorted(f for f, d in TFSERVING_DEFAULTS.items() if isinstance(d, bool))
)
def test_booleans_take_absl_spellings(flag: str) -> None:
    assert getattr(namespace([f"--{flag}"]), flag) is True
    assert getattr(namespace([f"--{flag}=true"]), flag) is True
    assert getattr(namespace([f"--{flag}=false"]), flag) is False
    with pytest.raises(SystemExit):
        namespace([f"--{flag}=maybe"])


@pytest.mark.parametrize(
    "flag",
    sorted(
        f
        for f, d in TFSERVING_DEFAULTS.items()
        if not isinstance(d, bool) and f not in ("grpc_channel_arguments", "version")
    ),
)
def test_valued_flags_take_flag_equals_value(flag: str) -> None:
    sample = SAMPLE_VALUES[type(TFSERVING_DEFAULTS[flag])]
    value = getattr(namespace([f"--{flag}={sample}"]), flag)
    assert str(value) == sample or value == type(TFSERVING_DEFAULTS[flag])(sample)


def test_help_lists_every_flag_and_says_which_have_no_effect() -> None:
    result = run_service("--help")
    assert result.returncode == 0, result.stderr
    text = "".join(result.stdout.split())  # argparse wraps lines, at hyphens too
    for flag in TFSERVING_DEFAULTS:
        assert f"--{flag}" in text, flag
    for flag, why in NO_EFFECT.items():
        assert "".join(f"no effect: {why}".split()) in text, flag


def test_flags_without_effect_are_logged_once_with_why(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "service.front.config")
    settings, _ = parse([*BASE, "--per_process_gpu_memory_fraction=0.5", "--skip_initialize_tpu"])
    assert [f for f, _ in settings.flags_without_effect] == [
        "per_process_gpu_memory_fraction",
        "skip_initialize_tpu",
    ]
    assert [r.getMessage() for r in caplog.records] == [
        f"--{flag} has no effect here: {NO_EFFECT[flag]}"
        for flag in ("per_process_gpu_memory_fraction", "skip_initialize_tpu")
    ]


def test_flags_left_at_their_default_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "service.front.config")
    settings, _ = parse(BASE)
    assert settings.flags_without_effect == ()
    assert not caplog.records


def test_every_flag_reaches_the_config() -> None:
    settings, _ = parse(BASE)
    for flag in TFSERVING_DEFAULTS:
        if flag != "version":
            assert hasattr(settings, flag), flag


# -- models: flags, environment, config file -------------------------------------------------


def test_docker_environment_names_the_model_and_its_folder() -> None:
    settings, models = parse([], {"MODEL_NAME": "half"})
    assert (settings.model_name, settings.model_base_path) == ("half", "/models/half")
    (entry,) = models.model_config_list.config
    assert (entry.name, entry.base_path) == ("half", "/models/half")


def test_model_base_path_in_the_environment_is_the_models_root() -> None:
    settings, _ = parse([], {"MODEL_NAME": "half", "MODEL_BASE_PATH": "/srv/models/"})
    assert settings.model_base_path == "/srv/models/half"


def test_flags_win_over_the_environment() -> None:
    settings, _ = parse(
        ["--model_name=m", "--model_base_path=/a/m"],
        {"MODEL_NAME": "half", "MODEL_BASE_PATH": "/x"},
    )
    assert (settings.model_name, settings.model_base_path) == ("m", "/a/m")


def test_no_model_anywhere_is_refused() -> None:
    with pytest.raises(ConfigError, match="nothing to serve"):
        parse([], {})


def test_model_config_file_wins_over_model_base_path(tmp_path: Path) -> None:
    path = tmp_path / "models.config"
    path.write_text('model_config_list { config { name: "a" base_path: "/a" } }')
    _, models = parse([f"--model_config_file={path}", "--model_base_path=/b", "--model_name=b"])
    assert [m.name for m in models.model_config_list.config] == ["a"]


def test_model_config_that_does_not_parse_says_so_in_tensorflow_servings_words(
    tmp_path: Path,
) -> None:
    path = tmp_path / "models.config"
    path.write_text("model_config_list { oops")
    with pytest.raises(ConfigError) as raised:
        parse([f"--model_config_file={path}"])
    message = str(raised.value)
    assert message.startswith("Error parsing text-format tensorflow.serving.ModelServerConfig: ")
    assert str(path) in message and "does not parse" in message


def test_tensorflow_servings_bad_model_config_is_refused_so(tfserving_testdata: Path) -> None:
    with pytest.raises(ConfigError, match=r"Error parsing text-format tensorflow\.serving"):
        parse([f"--model_config_file={tfserving_testdata / 'bad_model_config.txt'}"])


# -- TensorFlow session ------------------------------------------------------------------------


def session(settings: config.ServerConfig) -> config_pb2.ConfigProto:
    return config_pb2.ConfigProto.FromString(settings.session_config)


def test_session_parallelism_sets_both_thread_counts() -> None:
    settings, _ = parse([*BASE, "--tensorflow_session_parallelism=3"])
    assert settings.tensorflow_intra_op_parallelism == 3
    assert settings.tensorflow_inter_op_parallelism == 3
    assert session(settings).intra_op_parallelism_threads == 3


def test_session_parallelism_and_op_parallelism_together_are_refused() -> None:
    with pytest.raises(ConfigError, match="not both"):
        parse([*BASE, "--tensorflow_session_parallelism=3", "--tensorflow_intra_op_parallelism=2"])


def test_session_config_file_keeps_its_thread_counts_unless_flags_are_given(
    tmp_path: Path,
) -> None:
    path = tmp_path / "session.config"
    path.write_text("intra_op_parallelism_threads: 6\nallow_soft_placement: true\n")
    settings, _ = parse([*BASE, f"--tensorflow_session_config_file={path}"])
    assert session(settings).allow_soft_placement
    assert settings.tensorflow_intra_op_parallelism == 6
    assert settings.tensorflow_inter_op_parallelism == 1  # the file leaves it unset
    settings, _ = parse(
        [*BASE, f"--tensorflow_session_config_file={path}", "--tensorflow_intra_op_parallelism=2"]
    )
    assert settings.tensorflow_intra_op_parallelism == 2


def test_session_config_that_does_not_parse_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "session.config"
    path.write_text("no_such_field: 1")
    with pytest.raises(ConfigError, match=r"TensorFlow session config .* does not parse"):
        parse([*BASE, f"--tensorflow_session_config_file={path}"])


def platform_config(tmp_path: Path, session_config: config_pb2.ConfigProto) -> Path:
    adapter = server_config_pb2.SavedModelBundleSourceAdapterConfig()
    adapter.legacy_config.session_config = session_config.SerializeToString()
    value = "".join(f"\\{b:03o}" for b in adapter.SerializeToString())
    path = tmp_path / "platform.config"
    path.write_text(
        'platform_configs { key: "tensorflow" value { source_adapter_config { type_url: '
        '"type.googleapis.com/tensorflow.serving.SavedModelBundleSourceAdapterConfig" '
        f'value: "{value}" }} }} }}'
    )
    return path


def test_platform_config_file_gives_the_session_config_as_it_is(tmp_path: Path) -> None:
    wanted = config_pb2.ConfigProto(intra_op_parallelism_threads=5, allow_soft_placement=True)
    settings, _ = parse([*BASE, f"--platform_config_file={platform_config(tmp_path, wanted)}"])
    assert session(settings) == wanted
    assert settings.tensorflow_intra_op_parallelism == 5
    assert settings.tensorflow_inter_op_parallelism == 0  # TensorFlow chooses, as there


def test_tensorflow_servings_documented_platform_config_reads(tmp_path: Path) -> None:
    # The example of TensorFlow Serving's flag documentation: allow_soft_placement.
    path = tmp_path / "platform.config"
    path.write_text(
        "platform_configs { key: 'tensorflow' value { source_adapter_config { type_url: "
        "'type.googleapis.com/tensorflow.serving.SavedModelBundleSourceAdapterConfig', "
        "value: '\\xc2>\\x04\\x12\\x028\\x01' } } }"
    )
    settings, _ = parse([*BASE, f"--platform_config_file={path}"])
    assert session(settings).allow_soft_placement


def test_platform_config_for_another_platform_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "platform.config"
    path.write_text('platform_configs { key: "pytorch" value { } }')
    with pytest.raises(ConfigError, match="only the tensorflow platform"):
        parse([*BASE, f"--platform_config_file={path}"])


# -- other checks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--use_alts_credentials", "--ssl_config_file=/s"], "not both"),
        (["--mixed_precision=float16"], "--mixed_precision must be 'bfloat16'"),
        (["--grpc_max_threads=-1"], "--grpc_max_threads must be 0 or more"),
        (["--rest_api_num_threads=-1"], "--rest_api_num_threads must be 0 or more"),
        (["--max_num_load_retries=-1"], "--max_num_load_retries must be 0 or more"),
        (["--per_process_gpu_memory_fraction=2"], "between 0 and 1"),
    ],
)
def test_nonsense_is_refused(args: list[str], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse([*BASE, *args])


def test_tflite_pools_are_at_least_one() -> None:
    settings, _ = parse([*BASE, "--num_tflite_pools=0"])
    assert settings.num_tflite_pools == 1


def test_version_prints_and_exits(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        parse(["--version"])
    assert raised.value.code == 0
    assert capsys.readouterr().out.startswith("blockserve ")
