"""Connection limits for the REST port.

aiohttp closes idle keep-alive connections but has no deadline for a
request's headers and no cap on open connections, so stalled clients can
take every file descriptor. A thin protocol around each aiohttp
`RequestHandler` adds both; failing accepts are logged once per interval.

    app = web.Application(middlewares=[limits_middleware, ...])
    runner = web.AppRunner(app, keepalive_timeout=limits.idle_timeout_s, ...)
    await runner.setup()
    await start_rest_site(runner, host, port, limits)   # runner.cleanup() stops it
"""

import asyncio
import dataclasses
import json
import logging
import resource

from aiohttp import web

log = logging.getLogger("serving")
ACCEPT_ERROR = "socket.accept() out of system resource"  # asyncio's message


@dataclasses.dataclass(frozen=True)
class ConnectionLimits:
    """Time and count limits of REST connections; every value must be positive.

    Args:
        header_timeout_s: From accept, or from a request's first byte, until
            its headers are parsed and its handler runs; then it is closed.
        idle_timeout_s: Keep-alive idle time between requests (aiohttp's
            `keepalive_timeout`).
        body_timeout_s: Time to read a request body (applied by the handler).
        max_connections: Open REST connections at once; more get a 503.
        accept_error_log_interval_s: Failing accepts are logged once per this.
    """

    header_timeout_s: float = 10
    idle_timeout_s: float = 30
    body_timeout_s: float = 30
    max_connections: int = 1024
    accept_error_log_interval_s: float = 60

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            number = int if field.name == "max_connections" else (int, float)
            if isinstance(value, bool) or not isinstance(value, number) or not value > 0:
                raise ValueError(f"ConnectionLimits.{field.name} must be a positive "
                                 f"{'integer' if number is int else 'number'}, got {value!r}")


class _RateLimitedLog:
    """Logs the first event, then once per interval how many more there were."""

    def __init__(self, loop, interval_s, message, summary):
        self.loop, self.interval_s = loop, interval_s
        self.message, self.summary = message, summary
        self.suppressed, self.window = 0, None

    def event(self, *args):
        if self.window is not None:
            self.suppressed += 1
            return
        log.warning(self.message, *args)
        self.window = self.loop.call_later(self.interval_s, self._close_window)

    def _close_window(self):
        self.window = None
        if self.suppressed:
            log.warning(self.summary, self.suppressed, self.interval_s)
            # Still failing: the next report comes one interval later.
            self.suppressed = 0
            self.window = self.loop.call_later(self.interval_s, self._close_window)


class _LimitedConnection(asyncio.Protocol):
    """Wraps one aiohttp RequestHandler: counts it, times its headers, or refuses it.

    Forwards the public asyncio Protocol interface only; aiohttp writes to the
    transport directly and never sees this wrapper.
    """

    def __init__(self, site):
        self.site, self.handler, self.transport = site, None, None
        self.timer, self.busy = None, False

    def connection_made(self, transport):
        self.transport = transport
        site = self.site
        if site.open >= site.limits.max_connections:
            site.refusals.event(site.limits.max_connections)
            transport.write(site.refusal)
            # Half-close and drain instead of closing with unread request bytes
            # (a reset can destroy the 503 before the client reads it).
            if transport.can_write_eof():
                transport.write_eof()
            self.timer = site.loop.call_later(min(1.0, site.limits.header_timeout_s),
                                              transport.abort)
            return
        site.open += 1
        self.handler = site.runner.server()  # web.Server makes a RequestHandler
        self.handler.connection_made(transport)
        self._arm()

    def data_received(self, data):
        if self.handler is None:
            return  # refused: the request is read and dropped
        # The first bytes of the next keep-alive request start the clock. Bytes
        # arriving while a handler runs (its body, a pipelined request) do not;
        # aiohttp's keep-alive timeout bounds a stall after such a request.
        if not self.busy and self.timer is None:
            self._arm()
        self.handler.data_received(data)

    def eof_received(self):
        return self.handler.eof_received() if self.handler is not None else None

    def pause_writing(self):
        if self.handler is not None:
            self.handler.pause_writing()

    def resume_writing(self):
        if self.handler is not None:
            self.handler.resume_writing()

    def connection_lost(self, exc):
        self._disarm()
        if self.handler is not None:
            self.site.open -= 1
            self.handler.connection_lost(exc)
            self.handler = None

    def request_started(self):
        """The handler runs: a model run may take long, so the header clock stops."""
        self.busy = True
        self._disarm()

    def request_finished(self):
        """The response is done; the clock restarts with the next request's bytes."""
        self.busy = False

    def _arm(self):
        self.timer = self.site.loop.call_later(self.site.limits.header_timeout_s,
                                               self._headers_timed_out)

    def _disarm(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _headers_timed_out(self):
        self.timer = None
        log.debug("Closing REST connection %s: no complete request after %s s",
                  self.transport.get_extra_info("peername"), self.site.limits.header_timeout_s)
        self.transport.abort()


@web.middleware
async def limits_middleware(request, handler):
    """Stops a connection's header clock while its request is handled.

    Add it first in the application's `middlewares`. Connections not made by
    `start_rest_site` pass through unchanged.

    Args:
        request: The aiohttp request.
        handler: The next handler.

    Returns:
        The handler's response.
    """
    transport = request.transport
    connection = transport.get_protocol() if transport is not None else None
    if not isinstance(connection, _LimitedConnection):
        return await handler(request)
    connection.request_started()
    try:
        return await handler(request)
    finally:
        connection.request_finished()


class _LimitedSite(web.BaseSite):
    """A TCP site whose connections are `_LimitedConnection`s.

    Registered with the runner like a `web.TCPSite`, so `runner.cleanup()`
    stops its listener, then lets the requests in flight finish.
    """

    def __init__(self, runner, host, port, limits):
        super().__init__(runner)
        self.runner, self.host, self.port, self.limits = runner, host, port, limits
        self.loop = asyncio.get_running_loop()
        self.open, self.listener = 0, None
        body = json.dumps({"error": f"Too many open connections: the server's limit "
                                    f"(max_connections) is {limits.max_connections}"})
        self.refusal = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json"
                        f"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                        f"{body}").encode()
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
    """Serves `runner`'s application on host:port within `limits`.

    Args:
        runner: A set-up `web.AppRunner`; its `cleanup()` also stops this site.
        host: The interface to listen on.
        port: The port (0: any free one).
        limits: A `ConnectionLimits`.

    Returns:
        The listening `asyncio.Server` (its `sockets` give the bound port).
    """
    site = _LimitedSite(runner, host, port, limits)
    await site.start()
    return site.listener


def install_accept_error_log(loop, interval_s):
    """Makes `loop` log failing accepts (EMFILE, ENFILE...) once per interval.

    Every other context goes to the previous exception handler, or to the
    loop's default one, unchanged.

    Args:
        loop: The event loop.
        interval_s: Seconds between two log lines about failing accepts.

    Returns:
        The installed exception handler.
    """
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
    """Raises the soft limit of open files to the hard limit.

    Returns:
        The soft limit now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # An unlimited hard limit is not a value the kernel accepts as a soft one.
    if hard != resource.RLIM_INFINITY and soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
