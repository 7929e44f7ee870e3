"""The demo page's serving, without a browser: `GET /` with the served model
names inserted, its two assets, the fixed allowlist, `--demo_page=false`
(`serving/demo_page.py`; the page itself is tested in a browser by
`test_demo_browser.py`)."""

import html.parser
import http.client
import json
import re

import pytest
import requests
from aiohttp.test_utils import make_mocked_request

from serving.demo_page import DIRECTORY, PLACEHOLDER, DemoPage, render_index, served_models_json
from serving.flags import parse_flags
from serving.rest_api import NOT_FOUND_PAGE
from tests.serving.conftest import Server

pytestmark = pytest.mark.tensorflow_only
SERVED = re.compile(r'<script type="application/json" id="served-models">(.*?)</script>', re.S)


def raw_get(server, path, method="GET"):
    """`(status, headers, body)` for `path` sent exactly as written (no client normalises it)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=30)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def test_page_lists_the_served_models(server):
    response = requests.get(server.url + "/", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"  # the list follows the config
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert json.loads(SERVED.search(response.text).group(1)) == ["half_plus_three"]
    assert 'src="demo/demo.js"' in response.text and 'href="demo/demo.css"' in response.text
    # A query string is not part of the path.
    assert requests.get(server.url + "/?model=x", timeout=30).text == response.text
    status, headers, body = raw_get(server, "/", "HEAD")
    assert (status, body) == (200, b"")
    assert int(headers["Content-Length"]) == len(response.content)


@pytest.mark.parametrize("path, content_type, name", [
    ("/demo/demo.js", "text/javascript; charset=utf-8", "demo.js"),
    ("/demo/demo.css", "text/css; charset=utf-8", "demo.css"),
])
def test_assets_are_served_with_their_content_types(server, path, content_type, name):
    response = requests.get(server.url + path, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.content == (DIRECTORY / name).read_bytes()


@pytest.mark.parametrize("path", [
    "/demo/../server.py", "/demo/%2e%2e/server.py", "/demo/..%2fserver.py", "/demo/other.js",
    "/index.html", "/demo/index.html", "/demo/", "/demo", "/demo/demo.js/", "/DEMO/demo.js",
    "/demo//demo.js", "/demo/./demo.js", "/demo/demo.js%00", "//", "/demo/demo.py",
    "/../serving/demo/demo.js", "/serving/demo/demo.js",
])
def test_no_other_path_is_served(server, path):
    status, headers, body = raw_get(server, path)
    assert (status, body.decode()) == (404, NOT_FOUND_PAGE)
    assert headers["Content-Type"] == "text/html; charset=utf-8"


def test_other_methods_on_the_pages_paths_get_405(server):
    for method, path in (("POST", "/"), ("PUT", "/"), ("DELETE", "/demo/demo.js"),
                         ("POST", "/demo/demo.css")):
        response = requests.request(method, server.url + path, timeout=30)
        assert response.status_code == 405, (method, path)
        assert response.headers["Allow"] == "GET, HEAD"
    # Elsewhere nothing changes: a 404 page, and the API's own 400.
    assert requests.post(server.url + "/other", timeout=30).status_code == 404
    response = requests.put(server.url + "/v1/models/half_plus_three", timeout=30)
    assert response.status_code == 400 and "Malformed request: PUT" in response.json()["error"]


def test_the_flag_turns_the_page_off(models):
    assert parse_flags([]).demo_page is True
    assert parse_flags(["--demo_page=false"]).demo_page is False
    running = Server([f"--model_base_path={models / 'half_plus_three'}",
                      "--model_name=half_plus_three", "--demo_page=false",
                      "--file_system_poll_wait_seconds=0"])
    try:
        for path in ("/", "/demo/demo.js", "/demo/demo.css"):
            status, _, body = raw_get(running, path)
            assert (status, body.decode()) == (404, NOT_FOUND_PAGE)
        response = requests.get(running.url + "/v1/models/half_plus_three", timeout=30)
        assert response.status_code == 200
    finally:
        running.stop()


class _Scripts(html.parser.HTMLParser):
    """The page's <script> elements as a browser's parser sees them: (attributes, text)."""

    def __init__(self):
        super().__init__()
        self.scripts, self._open = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._open = (dict(attrs), [])

    def handle_data(self, data):
        if self._open is not None:
            self._open[1].append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._open is not None:
            self.scripts.append((self._open[0], "".join(self._open[1])))
            self._open = None


def _scripts(page):
    parser = _Scripts()
    parser.feed(page)
    return parser.scripts


def test_a_model_name_cannot_break_out_of_the_script_element():
    # A config may name a model so (only REST paths cannot reach it); the page is built as
    # `GET /` builds it, without a server to start.
    names = ["</script><script>alert(1)</script>", "<!--", "a&b", "</SCRIPT >", "ünï", "\u2028"]
    template = (DIRECTORY / "index.html").read_text(encoding="utf-8")
    scripts = _scripts(render_index(template, names))
    assert len(scripts) == len(_scripts(template))  # none added, none cut short
    served = [text for attrs, text in scripts if attrs.get("id") == "served-models"]
    assert len(served) == 1 and json.loads(served[0]) == names
    assert not set(served_models_json(names)) & set("<>&")


def test_files_are_read_once_and_the_names_at_every_request(tmp_path):
    for name in ("index.html", "demo.js", "demo.css"):
        (tmp_path / name).write_bytes((DIRECTORY / name).read_bytes())
    names = ["a"]
    page = DemoPage(lambda: names, tmp_path)
    for name in ("index.html", "demo.js", "demo.css"):
        (tmp_path / name).unlink()  # served from memory from now on
    names.append("b")
    body = page.response(make_mocked_request("GET", "/")).body.decode()
    assert json.loads(SERVED.search(body).group(1)) == ["a", "b"]
    assert page.response(make_mocked_request("GET", "/demo/demo.js")).body == (
        DIRECTORY / "demo.js").read_bytes()
    assert page.response(make_mocked_request("GET", "/demo/demo.jsx")) is None


def test_a_page_without_its_placeholder_is_refused(tmp_path):
    for name in ("demo.js", "demo.css"):
        (tmp_path / name).write_text("")
    (tmp_path / "index.html").write_text("<!DOCTYPE html><title>x</title>")
    with pytest.raises(ValueError, match="served-models"):
        DemoPage(list, tmp_path)
    assert PLACEHOLDER in (DIRECTORY / "index.html").read_text(encoding="utf-8")
