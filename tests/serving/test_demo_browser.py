"""The demo page at `/` in a real browser: headless Chromium driven by Selenium.

The server serves the tiny models of `tests/serving/saved_models.py`: a
headline classifier with a `gates` signature, a model whose predictions
fail, and a fake translator and language model. The tests use the page as a
person does (choose, type, click or Ctrl+Enter, hover) and check what it
shows against the server's own REST answers.

They need Debian's `chromium` and `chromium-driver` packages
(`apt-get install -y chromium chromium-driver`; `.ci/run` installs them),
and fail, saying so, where they are missing.

One test serves a model of the shipped zoo, so the page is also held to
the `gates` signature `python -m training.export` writes.

    python -m tests.serving.test_demo_browser docs/demo_page.png

writes the screenshot `docs/serving.md` shows (1280x800): the shipped
`sarcasm_lstm_pretrained` reading the seed's sentence.
"""

import argparse
import contextlib
import pathlib
import shutil
import sys
import tempfile

import pytest
import requests
from selenium import webdriver
from selenium.webdriver import ActionChains, Keys
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.serving.conftest import Server
from tests.serving.saved_models import (
    GATE_IMPORTANCE,
    HEADLINE_CLASSES,
    write_broken,
    write_echo_language_model,
    write_echo_translator,
    write_headlines,
)

pytestmark = pytest.mark.tensorflow_only
HEADLINE = "area man wins argument with toaster"
MODELS = {"headlines": write_headlines, "broken": write_broken,
          "echo_translator": write_echo_translator,
          "echo_language_model": write_echo_language_model}
FORWARD = '.heatmap-panel[data-layer="bidirectional_0"][data-direction="forward"]'
INSTALL = "apt-get install -y chromium chromium-driver"
# This machine refuses outside connections: without these Chromium stalls on
# its own network calls (updates, sync, field trials).
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic")
WAIT_S = 20


def write_models(directory):
    """The models and a config serving them; returns the config's path."""
    directory = pathlib.Path(directory)
    entries = []
    for name, write in MODELS.items():
        write(directory / name / "1")
        entries.append(f"  config {{\n    name: '{name}'\n    base_path: '{directory / name}'\n"
                       "    model_platform: 'tensorflow'\n  }\n")
    config = directory / "models.config"
    config.write_text("model_config_list {\n" + "".join(entries) + "}\n")
    return config


def start_server(directory):
    return Server([f"--model_config_file={write_models(directory)}",
                   "--file_system_poll_wait_seconds=0"])


def chromium_paths():
    """`(chromium, chromedriver)`, or a message saying how to install what is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver, None
    missing = [name for name, path in (("chromium", chromium), ("chromedriver", driver))
               if not path]
    return None, None, (f"The demo page's browser tests need {' and '.join(missing)}: "
                        f"run `{INSTALL}` (Debian; .ci/run does) and then the tests again.")


def start_browser(user_data_dir, width=1280, height=800):
    chromium, driver, problem = chromium_paths()
    if problem:
        raise RuntimeError(problem)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}",
                 f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options,
                               service=webdriver.ChromeService(executable_path=driver))
    browser.set_page_load_timeout(30)
    # The window's size includes its frame: the page itself gets exactly this.
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    return browser


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("demo_models"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    problem = chromium_paths()[2]
    if problem:
        pytest.fail(problem, pytrace=False)  # never a skip: CI must have a browser
    driver = start_browser(tmp_path_factory.mktemp("chromium_profile"))
    yield driver
    driver.quit()


def wait(browser, condition, message):
    return WebDriverWait(browser, WAIT_S).until(condition, message)


def shown(browser, selector):
    """The elements `selector` finds, or False (for waits)."""
    return browser.find_elements(By.CSS_SELECTOR, selector) or False


def open_page(browser, server, model):
    browser.get(server.url + "/")
    Select(browser.find_element(By.ID, "model")).select_by_value(model)
    wait(browser, lambda b: "signatures:" in b.find_element(By.ID, "model-info").text,
         f"the page did not read {model}'s metadata")


def type_text(browser, text):
    area = browser.find_element(By.ID, "text")
    area.clear()
    area.send_keys(text)
    return area


def run_headline(browser, server, text=HEADLINE):
    open_page(browser, server, "headlines")
    type_text(browser, text)
    browser.find_element(By.ID, "run").click()
    wait(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#prediction .score-row")) == 2,
         "no scores")
    wait(browser, lambda b: shown(b, f"{FORWARD} td.cell"), "no heatmap")


def hover(browser, element):
    browser.execute_script("arguments[0].scrollIntoView({block: 'center', inline: 'center'})",
                           element)
    ActionChains(browser).move_to_element(element).perform()
    tooltip = browser.find_element(By.ID, "heatmap-tooltip")
    wait(browser, lambda b: tooltip.is_displayed(), "no tooltip")
    return tooltip


def rest_outputs(server, model, body):
    response = requests.post(f"{server.url}/v1/models/{model}:predict", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["outputs"]


def units_shown(browser, panel):
    return [int(th.text) for th in browser.find_elements(By.CSS_SELECTOR, f"{panel} th.unit")]


def token_rows(browser, panel):
    return [th.text for th in browser.find_elements(By.CSS_SELECTOR, f"{panel} th.token")]


def test_classifier_scores_and_gates_heatmap(browser, demo_server, tmp_path):
    run_headline(browser, demo_server)
    outputs = rest_outputs(demo_server, "headlines", {"inputs": {"text": [HEADLINE]}})
    rows = browser.find_elements(By.CSS_SELECTOR, "#prediction .score-row")
    names = [row.find_element(By.CLASS_NAME, "class-name").text for row in rows]
    assert names == list(HEADLINE_CLASSES)
    assert [r.find_element(By.CLASS_NAME, "score-value").text for r in rows] == [
        f"{score * 100:.1f}%" for score in outputs["scores"][0]]
    assert browser.find_element(By.CLASS_NAME, "predicted-class").text == "sarcastic"

    # One panel per direction; the rows are the headline's words.
    panels = browser.find_elements(By.CSS_SELECTOR, ".heatmap-panel")
    assert [p.get_attribute("data-direction") for p in panels] == ["forward", "backward"]
    assert token_rows(browser, FORWARD) == HEADLINE.split()
    # The first gate by default, the units most important first.
    quantity = Select(browser.find_element(By.ID, "quantity"))
    assert quantity.first_selected_option.get_attribute("value") == "i"
    for direction, importance in GATE_IMPORTANCE.items():
        panel = f'.heatmap-panel[data-direction="{direction}"]'
        assert units_shown(browser, panel) == sorted(range(len(importance)),
                                                     key=lambda u: -importance[u])
    explanation = browser.find_element(By.ID, "quantity-explanation").text
    assert explanation.startswith("i: input gate")

    gates = rest_outputs(demo_server, "headlines",
                         {"signature_name": "gates", "inputs": {"text": [HEADLINE]}})
    cell = f'{FORWARD} td[data-token="2"][data-unit="1"]'
    tooltip = hover(browser, browser.find_element(By.CSS_SELECTOR, cell))
    assert '"wins" (token 2)' in tooltip.find_element(By.CLASS_NAME, "tip-token").text
    assert "unit 1 · i" in tooltip.find_element(By.CLASS_NAME, "tip-unit").text
    # The exact value: the server's shortest float32 decimal, as it sent it.
    value = tooltip.find_element(By.CLASS_NAME, "tip-value").text
    assert value == repr(gates["bidirectional_0/forward/i"][0][2][1])
    browser.save_screenshot(str(tmp_path / "demo_page.png"))
    assert (tmp_path / "demo_page.png").stat().st_size > 10_000

    # Another quantity redraws every panel, on a diverging scale for a state.
    quantity.select_by_value("c")
    wait(browser, lambda b: shown(b, f'{FORWARD} table[data-quantity="c"]'), "no redraw for c")
    tooltip = hover(browser, browser.find_element(By.CSS_SELECTOR, cell))
    value = tooltip.find_element(By.CLASS_NAME, "tip-value").text
    assert value == repr(gates["bidirectional_0/forward/c"][0][2][1])
    assert "negative" in browser.find_element(By.CSS_SELECTOR, f"{FORWARD} .legend").get_attribute(
        "aria-label")
    quantity.select_by_value("f")
    wait(browser, lambda b: shown(b, f'{FORWARD} table[data-quantity="f"]'), "no redraw for f")
    assert browser.find_element(By.ID, "quantity-explanation").text == (
        "f: forget gate — 1 keeps the cell's memory, 0 erases it")

    # Fewer units: the most important ones stay.
    top_k = browser.find_element(By.ID, "top-k")
    top_k.clear()
    top_k.send_keys("2")
    wait(browser, lambda b: units_shown(b, FORWARD) == [3, 1], "top-K did not apply")

    # The page loaded nothing it was not allowed to, and threw nothing.
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []


def test_keyboard_runs_and_moves_between_cells(browser, demo_server):
    open_page(browser, demo_server, "headlines")
    type_text(browser, "man bites dog").send_keys(Keys.CONTROL, Keys.ENTER)
    wait(browser, lambda b: token_rows(b, FORWARD) == ["man", "bites", "dog"],
         "Ctrl+Enter did not run")
    first = browser.find_element(By.CSS_SELECTOR, f'{FORWARD} td.cell[tabindex="0"]')
    first.click()  # a tap: the cell takes the focus and shows its value
    assert browser.find_element(By.ID, "heatmap-tooltip").is_displayed()
    ActionChains(browser).send_keys(Keys.ARROW_DOWN, Keys.ARROW_RIGHT).perform()
    focused = browser.switch_to.active_element
    assert (focused.get_attribute("data-token"), focused.get_attribute("data-unit")) == ("1", "1")
    assert "(token 1)" in browser.find_element(By.CLASS_NAME, "tip-token").text


def test_server_errors_are_shown(browser, demo_server):
    open_page(browser, demo_server, "broken")
    type_text(browser, HEADLINE)
    browser.find_element(By.ID, "run").click()
    error = wait(browser, lambda b: shown(b, "#prediction .error"), "no error shown")[0]
    assert "HTTP 400" in error.find_element(By.CLASS_NAME, "error-title").text
    message = error.find_element(By.CLASS_NAME, "error-message").text
    assert "the broken model always fails" in message
    assert "no gates signature" in browser.find_element(By.ID, "gates-note").text


def test_language_model_gets_every_input(browser, demo_server):
    open_page(browser, demo_server, "echo_language_model")
    assert browser.find_element(By.ID, "text").get_attribute("placeholder") == "ROMEO:"
    browser.find_element(By.ID, "run").click()  # empty: the example runs
    continuation = wait(browser, lambda b: shown(b, "#prediction .continuation"), "no text")[0]
    assert continuation.text.strip() == "max_length=200 temperature=0.8 top_k=0 top_p=1 seed=-1"
    assert browser.find_element(By.CSS_SELECTOR, "#prediction .prompt").text == "ROMEO:"
    assert "no gates signature" in browser.find_element(By.ID, "gates-note").text


def test_translator_decoder_reads_the_translations_tokens(browser, demo_server):
    open_page(browser, demo_server, "echo_translator")
    type_text(browser, "hola amigo")
    browser.find_element(By.ID, "run").click()
    translation = wait(browser, lambda b: shown(b, "#prediction .translation"), "no translation")[0]
    assert translation.text == "HOLA AMIGO (beam 4)"
    encoder = '.heatmap-panel[data-layer="encoder"]'
    decoder = '.heatmap-panel[data-layer="decoder"]'
    wait(browser, lambda b: shown(b, f"{encoder} td.cell"), "no encoder heatmap")
    # The 1997 LSTM's first gate, one column per block, the heavier block first.
    quantity = Select(browser.find_element(By.ID, "quantity"))
    assert quantity.first_selected_option.get_attribute("value") == "y_in"
    assert token_rows(browser, encoder) == ["hola", "amigo"]
    assert units_shown(browser, encoder) == [1, 0]
    assert browser.find_element(By.CSS_SELECTOR, f"{encoder} table").get_attribute(
        "data-unit-name") == "block"
    assert "records no y_in" in browser.find_element(By.CSS_SELECTOR, decoder).text
    quantity.select_by_value("g")  # per cell: the units' own importance
    wait(browser, lambda b: units_shown(b, encoder) == [2, 3, 1, 0], "no redraw for g")
    quantity.select_by_value("z")  # the decoder's GRU over the translation
    wait(browser, lambda b: token_rows(b, decoder) == ["HOLA", "AMIGO", "[end]"],
         "no decoder heatmap")
    assert units_shown(browser, decoder) == [1, 0, 2]
    assert browser.find_element(By.ID, "quantity-explanation").text == (
        "z: update gate — 1 keeps the previous state, 0 replaces it with the candidate")


SHIPPED = "sarcasm_lstm_pretrained"
SEED_SENTENCE = ("John wanted to visit his friend's house, but he couldn't find the address. "
                 "He spent hours searching for it.")


def start_zoo_server(directory, name=SHIPPED):
    """The server on one model of the shipped zoo, exported by `training.export`."""
    model_dir = pathlib.Path(__file__).resolve().parents[2] / "savedmodels" / name
    config = pathlib.Path(directory) / "models.config"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"model_config_list {{\n  config {{\n    name: '{name}'\n"
                      f"    base_path: '{model_dir}'\n    model_platform: 'tensorflow'\n  }}\n}}\n")
    return Server([f"--model_config_file={config}", "--file_system_poll_wait_seconds=0"])


def run_seed_sentence(browser, server):
    open_page(browser, server, SHIPPED)
    type_text(browser, SEED_SENTENCE)
    browser.find_element(By.ID, "run").click()
    panel = '.heatmap-panel[data-layer="recurrent_0"][data-direction="forward"]'
    wait(browser, lambda b: shown(b, f"{panel} td.cell"), "no heatmap for the shipped model")
    return panel


def test_a_shipped_models_export_drives_the_page(browser, tmp_path):
    # The export's real `gates` signature, not a stand-in: the page reads it
    # as the contract says (docs/gates.md).
    server = start_zoo_server(tmp_path)
    try:
        panel = run_seed_sentence(browser, server)
        gates = rest_outputs(server, SHIPPED,
                             {"signature_name": "gates", "inputs": {"text": [SEED_SENTENCE]}})
        count = gates["token_count"][0]
        assert token_rows(browser, panel) == gates["tokens"][0][:count]
        assert token_rows(browser, panel)[:3] == ["john", "wanted", "to"]
        importance = gates["recurrent_0/forward/importance"][0]
        assert units_shown(browser, panel)[:5] == sorted(
            range(len(importance)), key=lambda u: (-importance[u], u))[:5]
        scores = rest_outputs(server, SHIPPED, {"inputs": {"text": [SEED_SENTENCE]}})["scores"][0]
        predicted = browser.find_element(By.CLASS_NAME, "predicted-class").text
        assert predicted == ["not_sarcastic", "sarcastic"][scores.index(max(scores))]
    finally:
        server.stop()


def screenshot(path):
    """Serves the shipped `sarcasm_lstm_pretrained`, runs the seed's sentence,
    hovers a cell of its forget gate, saves a 1280x800 PNG."""
    with tempfile.TemporaryDirectory() as directory, contextlib.ExitStack() as stack:
        server = start_zoo_server(pathlib.Path(directory) / "models")
        stack.callback(server.stop)
        browser = start_browser(pathlib.Path(directory) / "profile")
        stack.callback(browser.quit)
        panel = run_seed_sentence(browser, server)
        Select(browser.find_element(By.ID, "quantity")).select_by_value("f")
        wait(browser, lambda b: shown(b, f'{panel} table[data-quantity="f"]'), "no redraw for f")
        browser.execute_script("window.scrollTo(0, 0)")
        cell = browser.find_element(By.CSS_SELECTOR, f'{panel} td[data-token="0"]')
        ActionChains(browser).move_to_element(cell).perform()
        browser.save_screenshot(str(path))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=screenshot.__doc__)
    parser.add_argument("path", type=pathlib.Path, help="where to write the PNG")
    screenshot(parser.parse_args().path)
    sys.exit(0)
