"""The demo page at `/` (`--demo_page`): try the served models in a browser.

Three static files shipped in `serving/demo/` are read once, when the
server starts, and served from memory under three fixed paths: a request's
path is only ever compared with those, never joined onto a directory, so
no request can make the server read a file. The page talks to the models
through the TF Serving REST API alone (`/v1/models/NAME/metadata` and
`:predict`); the one thing that API cannot tell it, which models are
served, the server writes into the page each time it serves `/`.
"""

import json
import pathlib

from aiohttp import web

DIRECTORY = pathlib.Path(__file__).resolve().parent / "demo"
# index.html holds this element once; the served model names replace its `[]`.
PLACEHOLDER = '<script type="application/json" id="served-models">[]</script>'
# The allowlist: request path -> (file in DIRECTORY, content type).
FILES = {
    "/": ("index.html", "text/html"),
    "/demo/demo.js": ("demo.js", "text/javascript"),
    "/demo/demo.css": ("demo.css", "text/css"),
}
METHOD_NOT_ALLOWED_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>405 Method Not Allowed</title></head>"
    "<body><h1>Method Not Allowed</h1></body></html>\n")
# The page loads nothing from elsewhere, and cannot be made to.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def served_models_json(names):
    """`names` as a JSON list that cannot end the <script> element it sits in.

    JSON allows `\\u003c` for `<` (and so on), which no HTML parser reads as
    markup: a model named `</script><script>...` stays a string.
    """
    text = json.dumps(list(names))  # non-ASCII is escaped too (ensure_ascii)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_index(template, names):
    """index.html's text with `names` in its served-models element."""
    return template.replace(PLACEHOLDER, PLACEHOLDER.replace("[]", served_models_json(names)), 1)


class DemoPage:
    """The page and its two assets, for `RestApi.dispatch`.

    `model_names()` gives the names to insert (read at every `GET /`, so a
    reloaded config shows). The files are read here, once.

    Raises:
        OSError: A file is missing (a broken install).
        ValueError: index.html lacks its served-models element.
    """

    def __init__(self, model_names, directory=DIRECTORY):
        self.model_names = model_names
        self.files = {path: ((directory / name).read_bytes(), content_type)
                      for path, (name, content_type) in FILES.items()}
        self.template = self.files["/"][0].decode("utf-8")
        if self.template.count(PLACEHOLDER) != 1:
            raise ValueError(f"{directory / 'index.html'} must hold {PLACEHOLDER} once")

    def response(self, request):
        """The answer for `request`'s path, or None when the path is not the page's."""
        path = request.rel_url.raw_path
        if path not in self.files:
            return None
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, text=METHOD_NOT_ALLOWED_PAGE,
                                content_type="text/html", headers={"Allow": "GET, HEAD"})
        body, content_type = self.files[path]
        if path == "/":
            body = render_index(self.template, self.model_names()).encode("utf-8")
            cache = "no-store"  # the model list changes with the config
        else:
            cache = "no-cache"  # revalidate: a new server may ship new files
        # aiohttp sends no body for HEAD, with the length GET would have.
        return web.Response(body=body, content_type=content_type, charset="utf-8",
                            headers={**_HEADERS, "Cache-Control": cache})
