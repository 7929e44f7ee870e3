"""Which models to serve: the `ModelServerConfig` text proto, TF Serving's checks of it,
and the model roots that a reload's base paths must lie under.
"""

import os
import pathlib

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

REPOSITORY_MODELS = pathlib.Path(__file__).resolve().parent.parent / "savedmodels"
REPOSITORY_CONFIG = REPOSITORY_MODELS / "models.config"
# Where the stock `tensorflow/serving` image mounts the models; models.config names this root.
CONTAINER_MODELS_ROOT = "/models"
PLATFORM = "tensorflow"


class ConfigError(Exception):
    """The server cannot start (or reload) with this configuration."""


def read_text_proto(path, message, what):
    """`message` parsed from a text-format file; errors name the file and line."""
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot be read ({error})") from None
    try:
        return text_format.Parse(text, message)
    except text_format.ParseError as error:  # "line:column : message"
        raise ConfigError(f"{path}:{error}") from None


def read_config_file(path):
    """A `ModelServerConfig` from a text-format file (`--model_config_file`)."""
    return read_text_proto(path, model_server_config_pb2.ModelServerConfig(), "model config file")


def single_model_config(name, base_path):
    """The config `--model_name NAME --model_base_path PATH` stands for."""
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = name
    model.base_path = str(base_path)
    model.model_platform = PLATFORM
    return config


def repository_config():
    """The zoo served with no flags: savedmodels/models.config, `/models` read as savedmodels/."""
    config = read_config_file(REPOSITORY_CONFIG)
    for model in config.model_config_list.config:
        if (model.base_path + "/").startswith(CONTAINER_MODELS_ROOT + "/"):
            model.base_path = str(REPOSITORY_MODELS) + model.base_path[len(CONTAINER_MODELS_ROOT):]
    return config


def check_config(config):
    """Raises `ConfigError` with TF Serving's message unless `config` is servable."""
    if config.WhichOneof("config") == "custom_model_config":
        raise ConfigError("ServerModelConfig type not supported by HandleReloadConfigRequest. "
                          "Only ModelConfigList is currently supported")
    seen = set()
    for model in config.model_config_list.config:
        if not model.name:
            raise ConfigError("Every model in the config needs a name")
        if model.name in seen:
            raise ConfigError(f"Illegal to list model {model.name} multiple times in config list")
        seen.add(model.name)
        if model.model_type and model.model_platform:
            raise ConfigError(f"Illegal setting both model_type(deprecated) and model_platform "
                              f"for model {model.name}")
        platform = model.model_platform or PLATFORM
        if platform != PLATFORM:
            raise ConfigError(f"Model {model.name} requests unsupported platform {platform}")
        if not (model.base_path.startswith("/") or "://" in model.base_path):
            raise ConfigError(f"Expected model {model.name} to have an absolute path or URI; "
                              f"got base_path()={model.base_path}")
        policy = model.model_version_policy
        if policy.WhichOneof("policy_choice") == "specific" and not policy.specific.versions:
            raise ConfigError(f"Model {model.name}: the specific version policy lists no versions")
    return config


def _local_path_problem(path):
    """Why `path` cannot be checked against the model roots, or None."""
    if not path:
        return "is empty"
    if "\0" in path:
        return "contains a NUL byte"
    if "://" in path:
        return "is a URI; only local directories can be checked against the model roots"
    if not os.path.isabs(path):
        return "is not an absolute path"
    return None


def _is_under(path, root):
    # commonpath compares whole components: /srv/models-evil is not under /srv/models.
    return os.path.commonpath([path, root]) == root


def check_under_roots(config, roots):
    """Returns `config` if every model's base path lies under one of `roots` (or is one).

    Paths are compared resolved (`os.path.realpath`), so neither `/srv/models/../etc` nor a
    symlink under a root that points elsewhere gets out. Otherwise, or for a path that is not
    absolute and local, `ConfigError` names the model, its base path and the allowed roots.
    """
    resolved = []
    for root in roots:
        if not root or "\0" in root:
            raise ConfigError(f"Invalid model root {root!r}")
        resolved.append(os.path.realpath(root))
    allowed = ", ".join(resolved) or "none"
    for model in config.model_config_list.config:
        problem = _local_path_problem(model.base_path)
        if problem is None and not any(
                _is_under(os.path.realpath(model.base_path), root) for root in resolved):
            problem = "is not under an allowed model root"
        if problem is not None:
            raise ConfigError(f"Model {model.name}: base_path {model.base_path!r} {problem} "
                              f"(allowed roots: {allowed})")
    return config


def model_roots(config):
    """The default model roots: each local base path's parent directory, resolved.

    A reload may then point a model anywhere beside the startup models (with `/models/NAME`:
    any `/models/OTHER`), but nowhere else. For a symlinked base path its target's parent is
    a root too, so that the startup models themselves stay allowed. No duplicates, in order.
    """
    roots = []
    for model in config.model_config_list.config:
        path = model.base_path
        if _local_path_problem(path) is None:
            # normpath first: the parent of '/srv/models/m/' is /srv/models.
            for root in (os.path.realpath(os.path.dirname(os.path.normpath(path))),
                         os.path.dirname(os.path.realpath(path))):
                if root not in roots:
                    roots.append(root)
    return roots
