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


# --- Re-reading the config (--model_config_file_poll_wait_seconds) -------------


def test_the_default_config_is_polled_and_a_single_model_says_it_is_not(caplog):
    from serving.flags import parse_flags
    from serving.server import config_file_polled

    assert config_file_polled(parse_flags(["--model_config_file_poll_wait_seconds=5"]))
    assert config_file_polled(parse_flags([
        "--model_config_file=/srv/models.config", "--model_config_file_poll_wait_seconds=5"]))
    assert not config_file_polled(parse_flags([]))
    assert not caplog.records
    single = parse_flags(["--model_base_path=/srv/m", "--model_config_file_poll_wait_seconds=5"])
    assert not config_file_polled(single)
    assert ("--model_config_file_poll_wait_seconds=5 is ignored: --model_base_path serves one "
            "model and there is no config file to re-read") in caplog.text


def test_a_polled_default_config_picks_up_a_new_model_and_skips_a_broken_file(
        tmp_path, monkeypatch, caplog):
    """savedmodels/models.config, re-read: with no flags the zoo's own file is polled."""
    import threading

    from serving import config as serving_config
    from serving.flags import parse_flags
    from serving.server import ModelServer

    zoo = tmp_path / "savedmodels"
    zoo.mkdir()
    entry = 'config {{ name: "{0}" base_path: "/models/{0}" model_platform: "tensorflow" }}'
    monkeypatch.setattr(serving_config, "REPOSITORY_MODELS", zoo)
    monkeypatch.setattr(serving_config, "REPOSITORY_CONFIG", zoo / "models.config")
    (zoo / "models.config").write_text(f"model_config_list {{ {entry.format('a')} }}")
    server = ModelServer(parse_flags(["--model_config_file_poll_wait_seconds=1"]))
    served, changed = [], threading.Event()

    def reload_config(config):
        served.append([m.name for m in config.model_config_list.config])
        changed.set()
        if len(served) == 1:  # the next read finds a broken file, then a fixed one
            (zoo / "models.config").write_text("model_config_list { config { nme: 1 } }")

    monkeypatch.setattr(server, "reload_config", reload_config)
    first = serving_config.repository_config()
    (zoo / "models.config").write_text(
        f"model_config_list {{ {entry.format('a')} {entry.format('b')} }}")
    poller = threading.Thread(target=server._poll_config_file, args=(first,), daemon=True)
    poller.start()
    assert changed.wait(30)
    assert served == [["a", "b"]]
    for _ in range(300):  # the broken file is read within a poll or two
        if "Keeping the current models" in caplog.text:
            break
        server.stopping.wait(0.1)
    server.stopping.set()
    poller.join(10)
    assert "models.config:1:" in caplog.text  # the broken file is named, models kept
    assert served == [["a", "b"]]
