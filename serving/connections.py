"""REST connection limits: aiohttp has no deadline for a request's headers and no cap on open
connections, so stalled clients could take every file descriptor. A protocol wrapping each
aiohttp `RequestHandler` adds both; `start_rest_site` serves it, `limits_middleware` times it.
"""

import asyncio
import json
import logging
import resource

from aiohttp import web

from serving.limits import ConnectionLimits

log = logging.getLogger("serving")
ACCEPT_ERROR = "socket.accept() out of system resource"  # asyncio's message


class _RateLimitedLog:
    """Logs the first event, then once per interval how many more there were."""

    def __init__(self, loop, interval_s, message, summary):
        self.loop, self.interval_s = loop, interval_s
        self.message, self.summary = message, summary
        self.suppressed, self.window = 0, None

    def event(self, *args):
        if self.window is None:
            log.warning(self.message, *args)
            self.window = self.loop.call_later(self.interval_s, self._close_window)
        else:
            self.suppressed += 1

    def _close_window(self):
        self.window = None
        if self.suppressed:  # still failing: the next report comes one interval later
            log.warning(self.summary, self.suppressed, self.interval_s)
            self.suppressed = 0
            self.window = self.loop.call_later(self.interval_s, self._close_window)


_REFUSED = asyncio.Protocol()  # a refused connection's handler: drops whatever comes


class _LimitedConnection(asyncio.Protocol):
    """Counts one aiohttp RequestHandler, times its headers, or refuses it (with a 503)."""

    def __init__(self, site):
        self.site, self.handler, self.transport = site, None, None
        self.timer, self.busy = None, False

    def connection_made(self, transport):
        self.transport = transport
        site, limits = self.site, self.site.limits
        if site.open >= limits.max_connections:
            site.refusals.event(limits.max_connections)
            transport.write(site.refusal)
            # Half-close and drain: closing with unread request bytes resets, losing the 503.
            if transport.can_write_eof():
                transport.write_eof()
            self.handler = _REFUSED
            self._start_clock(min(1.0, limits.header_timeout_s))
            return
        site.open += 1
        self.handler = site.runner.server()  # web.Server makes a RequestHandler
        self.handler.connection_made(transport)
        self._start_clock(limits.header_timeout_s)

    def data_received(self, data):
        # A request's first bytes start the clock (a refused connection's runs until it closes),
        # not those while a handler runs (its body, a pipelined request: keep-alive bounds them).
        if not self.busy and self.timer is None:
            self._start_clock(self.site.limits.header_timeout_s)
        self.handler.data_received(data)

    def eof_received(self):
        return self.handler.eof_received()

    def pause_writing(self):
        self.handler.pause_writing()

    def resume_writing(self):
        self.handler.resume_writing()

    def connection_lost(self, exc):
        self.stop_clock()
        if self.handler is not _REFUSED:
            self.site.open -= 1
        self.handler.connection_lost(exc)

    def _start_clock(self, seconds):
        """Closes the connection in `seconds`: refused, or without a request's complete headers."""
        self.timer = self.site.loop.call_later(seconds, self._time_out)

    def stop_clock(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _time_out(self):
        self.timer = None
        if self.handler is not _REFUSED:
            log.debug("Closing REST connection %s: no complete request after %s s",
                      self.transport.get_extra_info("peername"), self.site.limits.header_timeout_s)
        self.transport.abort()


@web.middleware
async def limits_middleware(request, handler):
    """Stops the header clock while a request is handled (a model run may take long); add first."""
    connection = request.transport and request.transport.get_protocol()
    if not isinstance(connection, _LimitedConnection):
        return await handler(request)
    connection.busy = True
    connection.stop_clock()
    try:
        return await handler(request)
    finally:
        connection.busy = False  # the clock restarts with the next request's bytes


class _LimitedSite(web.BaseSite):
    """A TCP site of `_LimitedConnection`s; `runner.cleanup()` stops it like a `web.TCPSite`."""

    def __init__(self, runner, host, port, limits):
        super().__init__(runner)
        self.runner, self.host, self.port, self.limits = runner, host, port, limits
        self.loop = asyncio.get_running_loop()
        self.open, self.listener = 0, None
        body = json.dumps({"error": "Too many open connections: the server's limit "
                                    f"(max_connections) is {limits.max_connections}"})
        self.refusal = ("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}").encode()
        self.refusals = _RateLimitedLog(
            self.loop, limits.accept_error_log_interval_s,
            "REST connection limit of %d reached: refusing connections with 503",
            "REST connection limit: %d more connections refused in %s s")

    @property
    def name(self):
        return f"http://{self.host}:{self.port}"

    async def start(self):
        await super().start()  # registers the site with the runner
        self.listener = await self.loop.create_server(
            lambda: _LimitedConnection(self), self.host, self.port, backlog=128)

    async def stop(self):
        if self.listener is not None:
            self.listener.close()  # stops accepting; open connections stay
        await super().stop()


async def start_rest_site(runner, host, port, limits):
    """Serves set-up `runner` on host:port within `limits`; returns the listening asyncio.Server."""
    site = _LimitedSite(runner, host, port, limits)
    await site.start()
    return site.listener


def install_accept_error_log(loop, interval_s):
    """Has `loop` log failing accepts (EMFILE, ENFILE...) once per interval; returns the handler."""
    previous = loop.get_exception_handler()
    errors = _RateLimitedLog(
        loop, interval_s, "Cannot accept connections: %s (logged once per %s s)",
        "Cannot accept connections: %d more failures in %s s")

    def handle(loop, context):
        if context.get("message") == ACCEPT_ERROR:
            errors.event(context.get("exception"), interval_s)
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)
    return handle


def raise_open_file_limit():
    """Raises the soft limit of open files to the hard limit; returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # An unlimited hard limit is not a value the kernel accepts as a soft one.
    if hard != resource.RLIM_INFINITY and soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
