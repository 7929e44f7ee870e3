"""Model directories only under the operator's roots: `check_under_roots`
and the default roots of `model_roots`."""

import os

import pytest
from tensorflow_serving.config import model_server_config_pb2

from serving.config import ConfigError, check_under_roots, model_roots


def config(*base_paths):
    """A config with models m0, m1, ... at `base_paths`."""
    parsed = model_server_config_pb2.ModelServerConfig()
    for index, base_path in enumerate(base_paths):
        model = parsed.model_config_list.config.add()
        model.name, model.base_path = f"m{index}", str(base_path)
    return parsed


@pytest.fixture
def root(tmp_path):
    (tmp_path / "models" / "a").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    return tmp_path / "models"


def test_a_base_path_inside_or_equal_to_a_root_is_allowed(root):
    accepted = config(root / "a", root / "new", root, f"{root}/a/../b")
    assert check_under_roots(accepted, [str(root)]) is accepted
    # A root given with a trailing slash or unresolved is the same root.
    check_under_roots(config(root / "a"), [f"{root}/", f"{root}/a/.."])


def test_a_base_path_outside_the_roots_is_refused_naming_model_path_and_roots(root):
    outside = root.parent / "outside"
    with pytest.raises(ConfigError) as error:
        check_under_roots(config(root / "a", outside), [str(root)])
    message = str(error.value)
    assert message == (f"Model m1: base_path '{outside}' is not under an allowed model root "
                       f"(allowed roots: {root})")


@pytest.mark.parametrize("escape", [
    "{root}-evil/m",  # a sibling sharing the root's name as a prefix
    "{root}/../outside",  # '..' out of the root
    "{root}/a/../../outside/m",
    "/",
])
def test_prefix_tricks_and_dot_dot_escapes_are_refused(root, escape):
    with pytest.raises(ConfigError, match="is not under an allowed model root"):
        check_under_roots(config(escape.format(root=root)), [str(root)])


def test_a_symlink_inside_a_root_pointing_outside_is_refused(root):
    os.symlink(root.parent / "outside", root / "link")
    with pytest.raises(ConfigError, match="is not under an allowed model root"):
        check_under_roots(config(root / "link"), [str(root)])
    with pytest.raises(ConfigError, match="is not under an allowed model root"):
        check_under_roots(config(root / "link" / "m"), [str(root)])
    # A symlink pointing inside the root is fine.
    os.symlink(root / "a", root / "alias")
    check_under_roots(config(root / "alias"), [str(root)])


def test_a_root_that_is_a_symlink_is_resolved_too(root):
    os.symlink(root, root.parent / "root-link")
    check_under_roots(config(root / "a"), [str(root.parent / "root-link")])
    check_under_roots(config(root.parent / "root-link" / "a"), [str(root)])


@pytest.mark.parametrize("base_path, problem", [
    ("gs://bucket/models/m", "is a URI; only local directories can be checked"),
    ("file://{root}/a", "is a URI"),
    ("{root}/a\0/../../outside", "contains a NUL byte"),
    ("", "is empty"),
    ("models/a", "is not an absolute path"),
])
def test_uris_nul_bytes_empty_and_relative_paths_are_refused(root, base_path, problem):
    with pytest.raises(ConfigError) as error:
        check_under_roots(config(base_path.format(root=root)), [str(root)])
    assert problem in str(error.value) and "Model m0: base_path " in str(error.value)


def test_any_of_several_roots_will_do(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    check_under_roots(config(first / "a", second / "b"), [str(first), str(second)])
    with pytest.raises(ConfigError) as error:
        check_under_roots(config(first / "a", tmp_path / "third" / "c"),
                          [str(first), str(second)])
    assert str(error.value).endswith(f"(allowed roots: {first}, {second})")


def test_no_roots_refuse_every_model(root):
    with pytest.raises(ConfigError, match=r"\(allowed roots: none\)"):
        check_under_roots(config(root / "a"), [])
    check_under_roots(config(), [])  # no models: nothing to refuse


def test_model_roots_are_the_resolved_parents_of_the_base_paths(tmp_path):
    startup = config(tmp_path / "models" / "a", f"{tmp_path}/models/b/",
                     tmp_path / "other" / "c", "gs://bucket/d")
    roots = model_roots(startup)
    assert roots == [str(tmp_path / "models"), str(tmp_path / "other")]
    # The startup models and new ones beside them pass; others do not.
    check_under_roots(config(tmp_path / "models" / "a", tmp_path / "other" / "c"), roots)
    check_under_roots(config(tmp_path / "models" / "new"), roots)
    with pytest.raises(ConfigError):
        check_under_roots(config(tmp_path / "elsewhere" / "m"), roots)


def test_model_roots_keep_a_symlinked_startup_model_allowed(tmp_path):
    (tmp_path / "store" / "m").mkdir(parents=True)
    (tmp_path / "models").mkdir()
    os.symlink(tmp_path / "store" / "m", tmp_path / "models" / "m")
    startup = config(tmp_path / "models" / "m")
    assert model_roots(startup) == [str(tmp_path / "models"), str(tmp_path / "store")]
    check_under_roots(startup, model_roots(startup))
