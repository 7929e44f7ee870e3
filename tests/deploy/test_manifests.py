"""Static checks of the deployment files in deploy/ (docs/deployment.md).

Neither Docker nor a cluster is available where the tests run, so nothing
here starts a container. Instead the tests parse every file the way its
consumer would and check what a typo or a drifted copy would break:

* every YAML file parses, without duplicate keys;
* the Compose service: the pinned stock image, the read-only mounts, ports
  published on 127.0.0.1 only, a healthcheck and a restart policy;
* every `tensorflow_model_server` flag exists (section 3.4 of the TF Serving
  reference), has a value of the right type, and the files it names exist
  in this repository at the path the mounts give them;
* the Kubernetes objects validate against the JSON schemas in
  deploy/schemas/, which in turn reject misspelt fields;
* the Service selects the Deployment's pods and targets its named ports,
  and the probes ask for the status of a model the zoo ships;
* monitoring.config and batching.config parse as TF Serving's protos.

Each checker returns a list of problems; the tests assert it is empty for
the real files and non-empty for a copy broken on purpose, so a checker
that silently accepts everything fails too.
"""

import copy
import http.server
import json
import re
import subprocess
import threading
from pathlib import Path

import jsonschema
import pytest
import referencing
import yaml
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving.server_config_pb2 import BatchingParameters, MonitoringConfig

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SAVEDMODELS = REPO / "savedmodels"
COMPOSE = DEPLOY / "docker-compose.yml"
K8S_DEPLOYMENT = DEPLOY / "kubernetes" / "deployment.yaml"
K8S_INFERENCESERVICE = DEPLOY / "kubernetes" / "inferenceservice.yaml"
SCHEMAS = DEPLOY / "schemas"
DOCS = REPO / "docs" / "deployment.md"

# Where the models image of deploy/kubernetes/deployment.yaml holds a copy
# of savedmodels/ (docs/deployment.md builds it), and where compose and the
# pod mount the models.
MODELS_IMAGE_DIR = "/savedmodels"
MODELS_MOUNT = "/models"
PROMETHEUS_PATH = "/monitoring/prometheus/metrics"

# Every flag of tensorflow_model_server (model_servers/main.cc), as listed in
# section 3.4 of the TF Serving reference, with the kind of value it takes.
# "path" flags name a file or directory inside the container.
TF_MODEL_SERVER_FLAGS = {
    "port": "int",
    "grpc_socket_path": "str",
    "rest_api_port": "int",
    "rest_api_num_threads": "int",
    "rest_api_timeout_in_ms": "int",
    "rest_api_enable_cors_support": "bool",
    "model_name": "str",
    "model_base_path": "path",
    "model_config_file": "path",
    "model_config_file_poll_wait_seconds": "int",
    "file_system_poll_wait_seconds": "int",
    "enable_batching": "bool",
    "batching_parameters_file": "path",
    "enable_per_model_batching_parameters": "bool",
    "monitoring_config_file": "path",
    "enable_model_warmup": "bool",
    "num_request_iterations_for_warmup": "int",
    "allow_version_labels_for_unavailable_models": "bool",
    "max_num_load_retries": "int",
    "load_retry_interval_micros": "int",
    "num_load_threads": "int",
    "num_unload_threads": "int",
    "saved_model_tags": "str",
    "tensorflow_session_parallelism": "int",
    "tensorflow_intra_op_parallelism": "int",
    "tensorflow_inter_op_parallelism": "int",
    "per_process_gpu_memory_fraction": "float",
    "grpc_channel_arguments": "str",
    "grpc_max_threads": "int",
    "enable_signature_method_name_check": "bool",
    "enable_grpc_healthcheck_service": "bool",
    "enable_serialization_as_tensor_content": "bool",
    "platform_config_file": "path",
    "ssl_config_file": "path",
    "use_alts_credentials": "bool",
    "tensorflow_session_config_file": "path",
    "version": "bool",
}

# The flags both deployments must set (the deployment brief of issue 6).
REQUIRED_FLAGS = {
    "port": "8500",
    "rest_api_port": "8501",
    "model_config_file": "/models/models.config",
    "enable_model_warmup": "true",
    "enable_batching": "true",
    "enable_per_model_batching_parameters": "true",
}
REQUIRED_FLAG_NAMES = {
    "model_config_file_poll_wait_seconds",
    "file_system_poll_wait_seconds",
    "monitoring_config_file",
    "batching_parameters_file",
}


# --------------------------------------------------------------------------
# Loading


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice.

    Plain PyYAML keeps the last value, and so does kubectl; a second `args:`
    or `ports:` pasted into a container would silently replace the first.
    """


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)


def load_documents(text):
    return [doc for doc in yaml.load_all(text, Loader=_StrictLoader) if doc is not None]


def load_file(path):
    return load_documents(path.read_text(encoding="utf-8"))


def yaml_files():
    return sorted(
        path for pattern in ("*.yml", "*.yaml") for path in DEPLOY.rglob(pattern)
    )


_DEFAULTED = re.compile(r"\$\{(\w+):?-([^}]*)\}")
_PLAIN = re.compile(r"\$(\w+|\{\w+\})")


def compose_defaults(value):
    """`value` as Compose sees it with no variables set in the environment.

    `${VAR:-default}` and `${VAR-default}` become `default`, `$$` a literal
    `$`. A variable without a default would make Compose substitute an empty
    string, which is a problem the caller reports (it raises ValueError).
    """
    if isinstance(value, dict):
        return {key: compose_defaults(item) for key, item in value.items()}
    if isinstance(value, list):
        return [compose_defaults(item) for item in value]
    if not isinstance(value, str):
        return value
    parts = value.split("$$")
    resolved = []
    for part in parts:
        part = _DEFAULTED.sub(lambda match: match.group(2), part)
        plain = _PLAIN.search(part)
        if plain:
            raise ValueError(f"{value!r}: variable {plain.group(0)} has no default")
        resolved.append(part)
    return "$".join(resolved)


def load_compose():
    (compose,) = load_file(COMPOSE)
    return compose


def k8s_objects(path=K8S_DEPLOYMENT):
    return {doc["kind"]: doc for doc in load_file(path)}


def models_config():
    return text_format.Parse(
        (SAVEDMODELS / "models.config").read_text(encoding="utf-8"),
        model_server_config_pb2.ModelServerConfig(),
    )


def listed_models():
    return [entry.name for entry in models_config().model_config_list.config]


def version_dirs(name):
    base = SAVEDMODELS / name
    if not base.is_dir():
        return []
    return sorted(
        (path for path in base.iterdir() if path.is_dir() and path.name.isdigit()),
        key=lambda path: int(path.name),
    )


def models_on_disk():
    """The listed models that have at least one version on disk."""
    return [name for name in listed_models() if version_dirs(name)]


# --------------------------------------------------------------------------
# TF Serving's config protos: MonitoringConfig and BatchingParameters are not
# in the tensorflow-serving-api package; serving/server_config.proto defines them.


def parse_text_proto(path, message_class):
    return text_format.Parse(path.read_text(encoding="utf-8"), message_class())


# --------------------------------------------------------------------------
# Flags


def parse_flags(argv):
    """`--name=value` arguments as {name: value}; problems as a list."""
    flags, problems = {}, []
    for arg in argv:
        match = re.fullmatch(r"--(\w+)=(.*)", arg)
        if not match:
            problems.append(f"{arg!r} is not of the form --flag=value")
            continue
        name, value = match.groups()
        if name in flags:
            problems.append(f"--{name} given twice")
        flags[name] = value
    return flags, problems


def _bad_value(kind, value):
    if kind == "int":
        return not re.fullmatch(r"-?[0-9]+", value)
    if kind == "float":
        return not re.fullmatch(r"-?[0-9]+(\.[0-9]*)?", value)
    if kind == "bool":
        return value not in ("true", "false")
    if kind == "path":
        return not value.startswith("/")
    return False


def flag_problems(argv):
    """What tensorflow_model_server would reject or do wrong with `argv`."""
    flags, problems = parse_flags(argv)
    for name, value in flags.items():
        kind = TF_MODEL_SERVER_FLAGS.get(name)
        if kind is None:
            problems.append(f"--{name} is not a tensorflow_model_server flag")
        elif _bad_value(kind, value):
            problems.append(f"--{name}={value!r} is not a valid {kind}")
    for name, value in REQUIRED_FLAGS.items():
        if flags.get(name) != value:
            problems.append(f"--{name} must be {value!r}, got {flags.get(name)!r}")
    for name in sorted(REQUIRED_FLAG_NAMES - set(flags)):
        problems.append(f"--{name} is missing")
    if flags.get("port") == flags.get("rest_api_port"):
        problems.append("--port and --rest_api_port must differ")
    if "batching_parameters_file" in flags and flags.get("enable_batching") != "true":
        problems.append("--batching_parameters_file needs --enable_batching=true")
    if "monitoring_config_file" in flags and flags.get("rest_api_port", "0") == "0":
        problems.append("--monitoring_config_file needs a --rest_api_port")
    for name in (
        "model_config_file_poll_wait_seconds",
        "file_system_poll_wait_seconds",
    ):
        if name in flags and not _bad_value("int", flags[name]):
            if not 1 <= int(flags[name]) <= 600:
                problems.append(f"--{name}={flags[name]} is outside 1..600 seconds")
    return problems


def path_flags(argv):
    flags, _ = parse_flags(argv)
    return {
        name: value
        for name, value in flags.items()
        if TF_MODEL_SERVER_FLAGS.get(name) == "path"
    }


def compose_command(compose):
    return compose_defaults(compose["services"]["tfserving"]["command"])


def k8s_server_container(objects):
    (container,) = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    return container


# --------------------------------------------------------------------------
# Compose


def _split_port(spec):
    """'127.0.0.1:8500:8500' -> ('127.0.0.1', 8500, 8500); short forms too."""
    parts = str(spec).split(":")
    if len(parts) == 3:
        return parts[0], int(parts[1]), int(parts[2].split("/")[0])
    if len(parts) == 2:
        return None, int(parts[0]), int(parts[1].split("/")[0])
    return None, None, int(parts[0].split("/")[0])


def _mount_source(mounts, container_path):
    """The host path (relative to deploy/) behind `container_path`, or None."""
    for mount in sorted(mounts, key=lambda m: len(m["target"]), reverse=True):
        target = mount["target"].rstrip("/")
        if container_path == target or container_path.startswith(target + "/"):
            rest = container_path[len(target) :].lstrip("/")
            return (DEPLOY / mount["source"] / rest).resolve()
    return None


def compose_problems(compose):
    problems = []
    services = compose.get("services", {})
    if set(services) != {"tfserving"}:
        return [f"services must be exactly ['tfserving'], got {sorted(services)}"]
    try:
        service = compose_defaults(services["tfserving"])
    except ValueError as error:
        return [str(error)]

    image, _, tag = service.get("image", "").partition(":")
    if image not in ("tensorflow/serving", "docker.io/tensorflow/serving"):
        problems.append(f"image must be the stock tensorflow/serving, got {image!r}")
    if not re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", tag):
        problems.append(f"image tag must be a pinned release, got {tag!r}")
    if "-gpu" in tag or "devel" in tag:
        problems.append(f"image tag {tag!r} is not the CPU serving image")

    mounts = service.get("volumes", [])
    for mount in mounts:
        if not isinstance(mount, dict) or mount.get("type") != "bind":
            problems.append(f"volume {mount!r} must be a long-syntax bind mount")
            continue
        if mount.get("read_only") is not True:
            problems.append(f"{mount['target']} must be mounted read_only")
        source = (DEPLOY / mount["source"]).resolve()
        if not source.exists():
            problems.append(f"{mount['source']} does not exist (from deploy/)")
        elif REPO not in source.parents:
            problems.append(f"{mount['source']} is outside the repository")
    mounts = [m for m in mounts if isinstance(m, dict) and "target" in m]
    models = [m for m in mounts if m["target"] == MODELS_MOUNT]
    if not models or (DEPLOY / models[0]["source"]).resolve() != SAVEDMODELS:
        problems.append("savedmodels/ must be mounted at /models")

    command = service.get("command", [])
    for name, value in path_flags(command).items():
        source = _mount_source(mounts, value)
        if source is None:
            problems.append(f"--{name}={value} is not under any mount")
        elif not source.is_file():
            problems.append(f"--{name}={value} is {source}, which is not a file")

    flags, _ = parse_flags(command)
    published = set()
    for spec in service.get("ports", []):
        host_ip, host_port, container_port = _split_port(spec)
        published.add(container_port)
        if host_ip != "127.0.0.1":
            problems.append(f"port {spec!r} must be published on 127.0.0.1 only")
    expected = {int(flags.get("port", 0)), int(flags.get("rest_api_port", 0))}
    if published != expected:
        problems.append(
            f"published ports {sorted(published)} != flags {sorted(expected)}"
        )

    check = service.get("healthcheck", {})
    test = " ".join(check.get("test", []))
    shipped = models_on_disk()
    if not any(f"/v1/models/{name} " in test for name in shipped):
        problems.append(f"healthcheck must ask for /v1/models/<one of {shipped}>")
    if f"/{flags.get('rest_api_port')}" not in test:
        problems.append("healthcheck must call the REST port")
    if "'\"AVAILABLE\"'" not in test:
        problems.append('healthcheck must require a version in state "AVAILABLE"')
    if not check.get("start_period"):
        problems.append("healthcheck needs a start_period for loading and warmup")

    if service.get("restart") not in ("always", "unless-stopped", "on-failure"):
        problems.append(f"restart policy {service.get('restart')!r} does not restart")
    return problems


# --------------------------------------------------------------------------
# Kubernetes


def _schema_registry():
    resources = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], referencing.Resource.from_contents(schema)))
    return referencing.Registry().with_resources(resources)


REGISTRY = _schema_registry()
SCHEMA_FOR_KIND = {
    "Deployment": "deployment.schema.json",
    "Service": "service.schema.json",
    "ConfigMap": "configmap.schema.json",
    "InferenceService": "inferenceservice.schema.json",
}


def validator(kind):
    path = SCHEMAS / SCHEMA_FOR_KIND[kind]
    schema = json.loads(path.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, registry=REGISTRY)


def schema_errors(document):
    kind = document.get("kind")
    if kind not in SCHEMA_FOR_KIND:
        return [f"no schema for kind {kind!r}"]
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in validator(kind).iter_errors(document)
    ]


def _probes(container):
    return {
        name: container[name]
        for name in ("startupProbe", "readinessProbe", "livenessProbe")
        if name in container
    }


def wiring_problems(objects):
    """How the Service, Deployment, ConfigMap and mounts fit together."""
    problems = []
    deployment, service = objects["Deployment"], objects["Service"]
    pod = deployment["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    for what, selector in (
        ("Deployment selector", deployment["spec"]["selector"]["matchLabels"]),
        ("Service selector", service["spec"]["selector"]),
    ):
        if not selector or not selector.items() <= pod_labels.items():
            problems.append(f"{what} {selector} does not select the pod labels")

    if service["spec"].get("type", "ClusterIP") != "ClusterIP":
        problems.append("the Service must be a ClusterIP (no external exposure)")
    container = k8s_server_container(objects)
    container_ports = {p.get("name"): p["containerPort"] for p in container["ports"]}
    if set(container_ports) != {"grpc", "http"}:
        problems.append(
            f"container ports must be named grpc and http: {container_ports}"
        )
    for port in service["spec"]["ports"]:
        if port["targetPort"] not in container_ports:
            problems.append(
                f"Service port {port['name']} targets {port['targetPort']!r}, "
                "not a named container port"
            )
        elif port["port"] != container_ports[port["targetPort"]]:
            problems.append(
                f"Service port {port['name']} ({port['port']}) != container port"
            )
        if port["name"] != port["targetPort"]:
            problems.append(f"Service port {port['name']} targets {port['targetPort']}")

    flags, _ = parse_flags(container.get("args", []))
    if container_ports.get("grpc") != int(flags.get("port", -1)):
        problems.append("the grpc containerPort must equal --port")
    if container_ports.get("http") != int(flags.get("rest_api_port", -1)):
        problems.append("the http containerPort must equal --rest_api_port")

    # Probes: the REST status of a model the zoo ships, on the http port.
    shipped = models_on_disk()
    probes = _probes(container)
    for required in ("readinessProbe", "livenessProbe"):
        if required not in probes:
            problems.append(f"the server container needs a {required}")
    for name, probe in probes.items():
        get = probe.get("httpGet", {})
        if get.get("path") not in {f"/v1/models/{model}" for model in shipped}:
            problems.append(
                f"{name} must GET /v1/models/<one of {shipped}>, "
                f"got {get.get('path')!r}"
            )
        if get.get("port") not in ("http", container_ports.get("http")):
            problems.append(f"{name} must use the http (REST) port")

    # Volumes: every path flag must land on a mount that holds the file.
    volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
    mounts = container.get("volumeMounts", [])
    for mount in mounts:
        if mount["name"] not in volumes:
            problems.append(f"volumeMount {mount['name']} has no volume")
        if mount["mountPath"] != "/tmp" and mount.get("readOnly") is not True:
            problems.append(f"{mount['mountPath']} must be mounted readOnly")
    configmap = objects.get("ConfigMap", {})
    init_containers = pod["spec"].get("initContainers", [])
    for flag, path in path_flags(container.get("args", [])).items():
        candidates = [
            m
            for m in mounts
            if path == m["mountPath"]
            or path.startswith(m["mountPath"].rstrip("/") + "/")
        ]
        if not candidates:
            problems.append(f"--{flag}={path} is not under any volumeMount")
            continue
        mount = max(candidates, key=lambda m: len(m["mountPath"]))
        rest = path[len(mount["mountPath"]) :].lstrip("/")
        volume = volumes.get(mount["name"], {})
        if "configMap" in volume:
            if volume["configMap"]["name"] != configmap.get("metadata", {}).get("name"):
                problems.append(
                    f"--{flag}: volume {mount['name']} names another ConfigMap"
                )
            elif rest not in configmap.get("data", {}):
                problems.append(f"--{flag}: ConfigMap has no key {rest!r}")
            elif configmap["data"][rest] != (DEPLOY / rest).read_text(encoding="utf-8"):
                problems.append(
                    f"--{flag}: ConfigMap {rest} differs from deploy/{rest}"
                )
        elif "emptyDir" in volume:
            fillers = [
                init
                for init in init_containers
                if any(m["name"] == mount["name"] for m in init.get("volumeMounts", []))
            ]
            commands = [" ".join(init.get("command", [])) for init in fillers]
            if not any(f"cp -R {MODELS_IMAGE_DIR}/" in cmd for cmd in commands):
                problems.append(
                    f"--{flag}: nothing copies {MODELS_IMAGE_DIR} "
                    f"into volume {mount['name']}"
                )
            elif not (SAVEDMODELS / rest).is_file():
                problems.append(f"--{flag}: savedmodels/{rest} does not exist")
        else:
            problems.append(
                f"--{flag}: volume {mount['name']} is neither a ConfigMap "
                "nor the models"
            )
    return problems


# --------------------------------------------------------------------------
# Tests: files


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_yaml_file_parses_without_duplicate_keys(path):
    documents = load_file(path)
    assert documents and all(isinstance(doc, dict) for doc in documents)


def test_the_yaml_loader_rejects_duplicate_keys():
    assert yaml_files() == [COMPOSE, K8S_DEPLOYMENT, K8S_INFERENCESERVICE]
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key 'args'"):
        load_documents("containers:\n- name: a\n  args: [x]\n  args: [y]\n")


def test_schemas_are_valid_json_schemas():
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.validators.validator_for(schema).check_schema(schema)
        assert schema["$id"].endswith("/" + path.name)
    assert set(SCHEMA_FOR_KIND.values()) < {p.name for p in SCHEMAS.glob("*.json")}


# --------------------------------------------------------------------------
# Tests: the model repository the deployments serve


def test_models_config_base_paths_are_the_mounted_savedmodels():
    config = models_config()
    names = [entry.name for entry in config.model_config_list.config]
    assert len(names) == len(set(names)) and "sarcasm_lstm" in names
    for entry in config.model_config_list.config:
        assert entry.base_path == f"{MODELS_MOUNT}/{entry.name}"
        assert entry.model_platform == "tensorflow"


def test_every_version_on_disk_has_a_saved_model_and_warmup_requests():
    # --enable_model_warmup replays these; the health checks ask for sarcasm_lstm.
    assert "sarcasm_lstm" in models_on_disk()
    for name in models_on_disk():
        for version in version_dirs(name):
            assert (version / "saved_model.pb").is_file(), version
            assert (
                version / "assets.extra" / "tf_serving_warmup_requests"
            ).is_file(), version


# --------------------------------------------------------------------------
# Tests: Compose


def test_compose_file_structure():
    assert compose_problems(load_compose()) == []


@pytest.mark.parametrize(
    "breakage, expected",
    [
        (lambda s: s["ports"].__setitem__(0, "0.0.0.0:8500:8500"), "127.0.0.1 only"),
        (lambda s: s["ports"].__setitem__(1, "8501:8501"), "127.0.0.1 only"),
        (
            lambda s: s.__setitem__("image", "tensorflow/serving:latest"),
            "pinned release",
        ),
        (lambda s: s.__setitem__("image", "tensorflow/serving:${TAG}"), "no default"),
        (lambda s: s["volumes"][0].__setitem__("read_only", False), "read_only"),
        (
            lambda s: s["volumes"][0].__setitem__("source", "../models"),
            "does not exist",
        ),
        (
            lambda s: s["volumes"][1].__setitem__("target", "/etc/other.config"),
            "not under any mount",
        ),
        (
            lambda s: s["command"].__setitem__(
                2, "--model_config_file=/models/model.config"
            ),
            "not a file",
        ),
        (
            lambda s: s["healthcheck"].__setitem__("test", ["CMD", "true"]),
            "/v1/models/",
        ),
        (lambda s: s.__setitem__("restart", "no"), "does not restart"),
    ],
)
def test_compose_checks_catch_mistakes(breakage, expected):
    compose = load_compose()
    broken = copy.deepcopy(compose)
    breakage(broken["services"]["tfserving"])
    problems = compose_problems(broken)
    assert any(expected in problem for problem in problems), problems


def _status_body(state, error_code="OK"):
    # GetModelStatusResponse as TF Serving's REST API prints it.
    return json.dumps(
        {
            "model_version_status": [
                {
                    "version": "1",
                    "state": state,
                    "status": {"error_code": error_code, "error_message": ""},
                }
            ]
        },
        indent=1,
    )


@pytest.mark.parametrize(
    "status, body, healthy",
    [
        (200, _status_body("AVAILABLE"), True),
        (200, _status_body("LOADING"), False),
        (200, _status_body("END", "UNAVAILABLE"), False),
        (404, '{"error": "Could not find any versions of model sarcasm_lstm"}', False),
        (None, "", False),  # nothing listening
    ],
)
def test_compose_healthcheck_command_runs(status, body, healthy):
    """Runs the healthcheck's bash against a stand-in for the REST port.

    The stock image has bash but no curl; this shows the /dev/tcp request
    reaches the status endpoint and that only an AVAILABLE version passes.
    """
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # like evhttp: answer, then close

        def do_GET(self):
            requests.append(self.requestline)
            payload = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    if status is None:
        server.server_close()  # the port is free again: connection refused
    else:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        test = load_compose()["services"]["tfserving"]["healthcheck"]["test"]
        assert test[:2] == ["CMD", "bash"]
        rest_port = parse_flags(compose_command(load_compose()))[0]["rest_api_port"]
        script = test[-1].replace(f"/{rest_port} ", f"/{port} ")
        assert script != test[-1]
        result = subprocess.run(
            test[1:-1] + [script], capture_output=True, timeout=20, check=False
        )
    finally:
        if status is not None:
            server.shutdown()
            server.server_close()
    assert (result.returncode == 0) is healthy, result
    if status is not None:
        assert requests == ["GET /v1/models/sarcasm_lstm HTTP/1.0"]


def test_compose_publishes_on_loopback_unless_told_otherwise():
    ports = load_compose()["services"]["tfserving"]["ports"]
    # The documented way to expose them: TFSERVING_BIND_ADDRESS=0.0.0.0.
    assert all(p.startswith("${TFSERVING_BIND_ADDRESS:-127.0.0.1}:") for p in ports)
    assert (
        compose_defaults("${TFSERVING_BIND_ADDRESS:-127.0.0.1}:8501:8501")
        == "127.0.0.1:8501:8501"
    )
    assert compose_defaults("echo $$HOME") == "echo $HOME"


# --------------------------------------------------------------------------
# Tests: flags


def _argv(where):
    if where == "compose":
        return compose_command(load_compose())
    return k8s_server_container(k8s_objects())["args"]


@pytest.mark.parametrize("where", ["compose", "kubernetes"])
def test_every_flag_is_a_real_tensorflow_model_server_flag(where):
    argv = _argv(where)
    assert len(argv) >= len(REQUIRED_FLAGS) + len(REQUIRED_FLAG_NAMES)
    assert flag_problems(argv) == []


@pytest.mark.parametrize(
    "argv_change, expected",
    [
        (lambda a: a + ["--enable_batchng=true"], "not a tensorflow_model_server flag"),
        (lambda a: a + ["--rest_api_timeout_in_ms=30s"], "not a valid int"),
        (
            lambda a: [x.replace("warmup=true", "warmup=yes") for x in a],
            "not a valid bool",
        ),
        (
            lambda a: [x for x in a if not x.startswith("--enable_batching=")],
            "needs --enable_batching",
        ),
        (lambda a: [x.replace("=8501", "=8500") for x in a], "must differ"),
        (
            lambda a: [x for x in a if not x.startswith("--monitoring")],
            "--monitoring_config_file is missing",
        ),
        (lambda a: a + ["--port=9000"], "given twice"),
        (lambda a: a + ["--model_name", "x"], "not of the form"),
    ],
)
def test_flag_checks_catch_mistakes(argv_change, expected):
    problems = flag_problems(argv_change(list(_argv("kubernetes"))))
    assert any(expected in problem for problem in problems), problems


def test_compose_and_kubernetes_run_the_same_server():
    compose = load_compose()["services"]["tfserving"]
    container = k8s_server_container(k8s_objects())
    assert (
        compose["entrypoint"]
        == container["command"]
        == ["/usr/bin/tensorflow_model_server"]
    )
    assert compose_command(load_compose()) == container["args"]
    compose_tag = compose_defaults(compose["image"]).partition(":")[2]
    assert container["image"] == f"tensorflow/serving:{compose_tag}"
    isvc = load_file(K8S_INFERENCESERVICE)[0]
    assert isvc["spec"]["predictor"]["model"]["runtimeVersion"] == compose_tag


def test_batching_is_per_model_and_never_for_scalar_inputs():
    """Global batching would break any model with a rank-0 input.

    The batcher concatenates requests along dimension 0 and rejects a scalar
    input; translate_spa_eng's optional `beam_width` is one, and its warmup
    requests send it, so the model would fail to load. The deployments
    therefore batch only models that carry batching_params.pbtxt, and no
    model with a scalar input may carry one.
    """
    from tensorflow.core.protobuf import saved_model_pb2

    for argv in (_argv("compose"), _argv("kubernetes")):
        assert parse_flags(argv)[0]["enable_per_model_batching_parameters"] == "true"
    checked = 0
    for name in models_on_disk():
        for version in version_dirs(name):
            saved_model = saved_model_pb2.SavedModel()
            saved_model.ParseFromString((version / "saved_model.pb").read_bytes())
            scalar_inputs = [
                f"{key}:{input_name}"
                for meta_graph in saved_model.meta_graphs
                for key, signature in meta_graph.signature_def.items()
                for input_name, info in signature.inputs.items()
                if not info.tensor_shape.unknown_rank and not info.tensor_shape.dim
            ]
            per_model = version / "batching_params.pbtxt"
            if per_model.exists():
                assert (
                    not scalar_inputs
                ), f"{per_model} batches scalar inputs {scalar_inputs}"
                check_batching_parameters(
                    parse_text_proto(per_model, BatchingParameters)
                )
            checked += 1
    assert checked >= 1


# --------------------------------------------------------------------------
# Tests: monitoring and batching configs


def test_monitoring_config_enables_prometheus_where_the_pods_say():
    config = parse_text_proto(DEPLOY / "monitoring.config", MonitoringConfig)
    assert config.prometheus_config.enable is True
    assert config.prometheus_config.path == PROMETHEUS_PATH
    annotations = k8s_objects()["Deployment"]["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == config.prometheus_config.path
    assert (
        annotations["prometheus.io/port"]
        == parse_flags(_argv("kubernetes"))[0]["rest_api_port"]
    )


def check_batching_parameters(params):
    max_batch = params.max_batch_size.value
    assert params.HasField("max_batch_size") and 1 <= max_batch <= 1024
    assert (
        params.HasField("num_batch_threads")
        and 1 <= params.num_batch_threads.value <= 16
    )
    assert (
        params.HasField("max_enqueued_batches")
        and params.max_enqueued_batches.value >= 1
    )
    # A timeout beyond 100 ms would dominate the latency of every request.
    assert 0 <= params.batch_timeout_micros.value <= 100_000
    sizes = list(params.allowed_batch_sizes)
    if sizes:
        assert sizes == sorted(set(sizes)) and sizes[-1] == max_batch


def test_batching_config_parses_and_suits_a_small_cpu_host():
    params = parse_text_proto(DEPLOY / "batching.config", BatchingParameters)
    check_batching_parameters(params)
    # No more batch threads than the pod may use cores.
    limits = k8s_server_container(k8s_objects())["resources"]["limits"]
    assert params.num_batch_threads.value <= float(limits["cpu"])


def test_config_parsers_reject_typos():
    with pytest.raises(text_format.ParseError, match="max_batch_sise"):
        text_format.Parse("max_batch_sise { value: 32 }", BatchingParameters())
    with pytest.raises(text_format.ParseError):
        text_format.Parse(
            "max_batch_size: 32", BatchingParameters()
        )  # needs { value: }
    with pytest.raises(text_format.ParseError, match="prometheus"):
        text_format.Parse("prometheus { enable: true }", MonitoringConfig())
    with pytest.raises(AssertionError):
        check_batching_parameters(
            text_format.Parse(
                "max_batch_size { value: 32 } num_batch_threads { value: 2 } "
                "max_enqueued_batches { value: 8 } allowed_batch_sizes: 16 "
                "allowed_batch_sizes: 24",
                BatchingParameters(),
            )
        )


# --------------------------------------------------------------------------
# Tests: Kubernetes


def test_kubernetes_objects_validate_against_the_schemas():
    objects = load_file(K8S_DEPLOYMENT)
    assert [doc["kind"] for doc in objects] == ["ConfigMap", "Deployment", "Service"]
    (isvc,) = load_file(K8S_INFERENCESERVICE)
    for document in objects + [isvc]:
        assert schema_errors(document) == [], document["kind"]


def _container(doc):
    return doc["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize(
    "kind, breakage, expected",
    [
        (
            "Deployment",
            lambda d: _container(d).__setitem__(
                "readinessProbes", _container(d).pop("readinessProbe")
            ),
            "'readinessProbes' was unexpected",
        ),
        (
            "Deployment",
            lambda d: _container(d)["ports"][0].__setitem__("containerport", 8500),
            "'containerport' was unexpected",
        ),
        (
            "Deployment",
            lambda d: _container(d)["livenessProbe"].__setitem__("periodSecond", 10),
            "'periodSecond' was unexpected",
        ),
        (
            "Deployment",
            lambda d: _container(d)["livenessProbe"]["httpGet"].__setitem__(
                "path", "v1/models/x"
            ),
            "'v1/models/x' does not match",
        ),
        (
            "Deployment",
            lambda d: _container(d)["ports"][1].__setitem__("name", "http_rest"),
            "'http_rest' does not match",
        ),
        (
            "Deployment",
            lambda d: _container(d)["resources"]["limits"].__setitem__("cpu", 0.5),
            "0.5 is not of type 'string'",
        ),
        (
            "Deployment",
            lambda d: _container(d)["volumeMounts"][0].__setitem__("readonly", True),
            "'readonly' was unexpected",
        ),
        (
            "Deployment",
            lambda d: d["spec"]["template"]["metadata"]["annotations"].__setitem__(
                "prometheus.io/scrape", True
            ),
            "True is not of type 'string'",
        ),
        (
            "Deployment",
            lambda d: d["spec"]["template"]["spec"].__setitem__("container", []),
            "'container' was unexpected",
        ),
        (
            "Deployment",
            lambda d: d["spec"]["template"]["spec"]["volumes"][0].__setitem__(
                "configMap", {"name": "x"}
            ),
            "is valid under each of",
        ),
        (
            "Deployment",
            lambda d: d.__setitem__("apiVersion", "extensions/v1beta1"),
            "'apps/v1' was expected",
        ),
        (
            "Service",
            lambda d: d["spec"]["ports"][0].__setitem__("targetport", "grpc"),
            "'targetport' was unexpected",
        ),
        (
            "Service",
            lambda d: d["spec"].__setitem__("type", "ClusterIp"),
            "'ClusterIp' is not one of",
        ),
        (
            "ConfigMap",
            lambda d: d.__setitem__("datas", d.pop("data")),
            "'datas' was unexpected",
        ),
        (
            "InferenceService",
            lambda d: d["spec"]["predictor"]["model"].__setitem__(
                "storageURI", "gs://b/m"
            ),
            "'storageURI' was unexpected",
        ),
        (
            "InferenceService",
            lambda d: d["spec"]["predictor"]["model"]["modelFormat"].__setitem__(
                "name", "tensorflw"
            ),
            "'tensorflow' was expected",
        ),
        (
            "InferenceService",
            lambda d: d["metadata"].__setitem__("name", "sarcasm_lstm"),
            "'sarcasm_lstm' does not match",
        ),
        (
            "InferenceService",
            lambda d: d["spec"]["predictor"]["model"].__setitem__(
                "storageUri", "savedmodels/sarcasm_lstm"
            ),
            "'savedmodels/sarcasm_lstm' does not match",
        ),
    ],
)
def test_schemas_reject_typos(kind, breakage, expected):
    path = K8S_INFERENCESERVICE if kind == "InferenceService" else K8S_DEPLOYMENT
    (document,) = [doc for doc in load_file(path) if doc["kind"] == kind]
    assert schema_errors(document) == []
    breakage(document)
    errors = schema_errors(document)
    assert any(expected in error for error in errors), errors


def test_service_deployment_configmap_and_mounts_fit_together():
    assert wiring_problems(k8s_objects()) == []


def _server(objects):
    return k8s_server_container(objects)


@pytest.mark.parametrize(
    "breakage, expected",
    [
        (
            lambda o: o["Service"]["spec"]["selector"].__setitem__(
                "app.kubernetes.io/name", "tf-serving"
            ),
            "does not select",
        ),
        (
            lambda o: o["Deployment"]["spec"]["selector"]["matchLabels"].__setitem__(
                "tier", "x"
            ),
            "does not select",
        ),
        (
            lambda o: o["Service"]["spec"]["ports"][1].__setitem__(
                "targetPort", "rest"
            ),
            "not a named container port",
        ),
        (
            lambda o: o["Service"]["spec"]["ports"][0].__setitem__("port", 9000),
            "!= container port",
        ),
        (
            lambda o: o["Service"]["spec"].__setitem__("type", "LoadBalancer"),
            "ClusterIP",
        ),
        (
            lambda o: _server(o)["ports"][1].__setitem__("containerPort", 8080),
            "--rest_api_port",
        ),
        (
            lambda o: _server(o)["readinessProbe"]["httpGet"].__setitem__(
                "path", "/v1/models/sarcasm"
            ),
            "readinessProbe must GET",
        ),
        (
            lambda o: _server(o)["livenessProbe"]["httpGet"].__setitem__(
                "port", "grpc"
            ),
            "http (REST) port",
        ),
        (lambda o: _server(o).pop("livenessProbe"), "needs a livenessProbe"),
        (
            lambda o: _server(o)["volumeMounts"][0].__setitem__("readOnly", False),
            "must be mounted readOnly",
        ),
        (
            lambda o: _server(o)["volumeMounts"][1].__setitem__("mountPath", "/etc/tf"),
            "not under any volumeMount",
        ),
        (
            lambda o: o["ConfigMap"]["data"].__setitem__(
                "batching.config", "max_batch_size { value: 8 }\n"
            ),
            "differs from deploy/batching.config",
        ),
        (
            lambda o: o["ConfigMap"]["data"].pop("monitoring.config"),
            "no key 'monitoring.config'",
        ),
        (
            lambda o: o["Deployment"]["spec"]["template"]["spec"]["initContainers"][
                0
            ].__setitem__("command", ["true"]),
            "nothing copies",
        ),
    ],
)
def test_wiring_checks_catch_mistakes(breakage, expected):
    objects = k8s_objects()
    breakage(objects)
    problems = wiring_problems(objects)
    assert any(expected in problem for problem in problems), problems


def test_pod_runs_unprivileged_with_bounded_resources():
    pod = k8s_objects()["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"] + pod["initContainers"]:
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        resources = container["resources"]
        assert set(resources) == {"requests", "limits"}
        assert set(resources["limits"]) >= {"cpu", "memory"}


def test_inferenceservice_serves_sarcasm_lstm_with_the_tensorflow_runtime():
    (isvc,) = load_file(K8S_INFERENCESERVICE)
    model = isvc["spec"]["predictor"]["model"]
    assert model["modelFormat"]["name"] == "tensorflow"
    # KServe names the served model after the InferenceService.
    assert isvc["metadata"]["name"] == "sarcasm_lstm".replace("_", "-")
    # The URI names the model directory, whose children are the versions.
    assert model["storageUri"].rstrip("/").rsplit("/", 1)[-1] == "sarcasm_lstm"
    assert version_dirs("sarcasm_lstm")
    text = K8S_INFERENCESERVICE.read_text(encoding="utf-8")
    assert "PLACEHOLDER" in text and "storageUri" in text


# --------------------------------------------------------------------------
# Tests: documentation


def test_deployment_docs_name_existing_files_and_the_commands():
    text = DOCS.read_text(encoding="utf-8")
    for command in (
        "docker compose -f deploy/docker-compose.yml up",
        "kubectl apply -f deploy/kubernetes/deployment.yaml",
        "kubectl apply -f deploy/kubernetes/inferenceservice.yaml",
        "python3 -m pytest -q tests/deploy",
        PROMETHEUS_PATH,
    ):
        assert command in text, command
    # Paths in deploy/, docs/ and tests/ must exist (savedmodels/ paths may
    # name models or files a user creates).
    mentioned = set(re.findall(r"(?<![\w/.-])(?:deploy|docs|tests)/[\w./-]*\w", text))
    assert "deploy/docker-compose.yml" in mentioned
    missing = sorted(m for m in mentioned if not (REPO / m).exists())
    assert missing == []
