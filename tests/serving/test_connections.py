"""Connection limits of the REST port: header deadline, connection cap, accept-error log.

A tiny aiohttp app served by `start_rest_site` on 127.0.0.1, spoken to with
raw HTTP bytes over asyncio streams; each test runs its own `asyncio.run`.
"""

import asyncio
import contextlib
import errno
import json
import logging
import resource
import time

import pytest
from aiohttp import web

from serving.connections import (
    ACCEPT_ERROR,
    ConnectionLimits,
    install_accept_error_log,
    limits_middleware,
    raise_open_file_limit,
    start_rest_site,
)

SHORT = ConnectionLimits(header_timeout_s=0.5, idle_timeout_s=3, max_connections=5,
                         accept_error_log_interval_s=0.2)
HALF_HEADERS = b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Le"


def request(method, path, body=b""):
    return (f"{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


async def echo(request):
    return web.json_response({"echo": (await request.read()).decode()})


async def slow(request):
    await asyncio.sleep(2)
    return web.json_response({"slept": 2})


@contextlib.asynccontextmanager
async def serving(limits=SHORT):
    app = web.Application(middlewares=[limits_middleware])
    app.router.add_post("/echo", echo)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=limits.idle_timeout_s)
    await runner.setup()
    try:
        server = await start_rest_site(runner, "127.0.0.1", 0, limits)
        yield server.sockets[0].getsockname()[1]
    finally:
        await runner.cleanup()


async def connect(port):
    return await asyncio.open_connection("127.0.0.1", port)


async def read_response(reader):
    """One response: (status, headers text, body), read by its Content-Length."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.decode().split("\r\n")
    length = next(int(line.split(":")[1]) for line in lines
                  if line.lower().startswith("content-length:"))
    body = await asyncio.wait_for(reader.readexactly(length), 5)
    return int(lines[0].split()[1]), head.decode(), json.loads(body)


async def seconds_until_closed(reader, limit=5):
    """Seconds until the server closes the connection (EOF or reset)."""
    started = time.monotonic()
    try:
        assert await asyncio.wait_for(reader.read(), limit) == b""
    except ConnectionResetError:
        pass
    return time.monotonic() - started


async def ask(port, method="POST", path="/echo", body=b"hi"):
    reader, writer = await connect(port)
    writer.write(request(method, path, body))
    try:
        return await read_response(reader)
    finally:
        writer.close()


def test_half_headers_are_closed_within_the_header_timeout_and_the_server_still_answers():
    async def main():
        async with serving() as port:
            reader, writer = await connect(port)
            writer.write(HALF_HEADERS)
            assert 0.3 < await seconds_until_closed(reader) < 1.5
            writer.close()
            assert (await ask(port))[::2] == (200, {"echo": "hi"})
    asyncio.run(main())


def test_a_silent_connection_is_closed():
    async def main():
        async with serving() as port:
            reader, writer = await connect(port)
            assert 0.3 < await seconds_until_closed(reader) < 1.5
            writer.close()
    asyncio.run(main())


def test_a_keep_alive_connection_that_stalls_in_its_next_headers_is_closed():
    async def main():
        async with serving() as port:
            reader, writer = await connect(port)
            writer.write(request("POST", "/echo", b"one"))
            assert (await read_response(reader))[::2] == (200, {"echo": "one"})
            # Idle for longer than the header timeout: the idle limit (3 s) applies.
            await asyncio.sleep(0.8)
            writer.write(request("POST", "/echo", b"two"))
            assert (await read_response(reader))[::2] == (200, {"echo": "two"})
            writer.write(HALF_HEADERS)
            assert 0.3 < await seconds_until_closed(reader) < 1.5
            writer.close()
    asyncio.run(main())


def test_a_slow_handler_gets_its_whole_response():
    async def main():
        async with serving() as port:
            assert (await ask(port, "GET", "/slow"))[::2] == (200, {"slept": 2})
    asyncio.run(main())


def test_connections_over_the_cap_get_503_and_are_closed():
    async def main():
        async with serving(ConnectionLimits(header_timeout_s=5, max_connections=5)) as port:
            held = [await connect(port) for _ in range(5)]
            await asyncio.sleep(0.2)  # the server has accepted all five
            reader, writer = await connect(port)
            writer.write(request("POST", "/echo"))
            status, head, body = await read_response(reader)
            assert status == 503 and "Connection: close" in head
            assert "max_connections" in body["error"] and "5" in body["error"]
            assert await seconds_until_closed(reader) < 1.5
            writer.close()
            for _, held_writer in held:
                held_writer.close()
            await asyncio.sleep(0.2)  # the server has seen them close
            statuses = await asyncio.gather(*(ask(port) for _ in range(5)))
            assert [status for status, _, _ in statuses] == [200] * 5
    asyncio.run(main())


def test_cleanup_lets_requests_in_flight_finish_and_stops_accepting():
    async def main():
        async with serving() as port:
            reader, writer = await connect(port)
            writer.write(request("GET", "/slow"))
            await asyncio.sleep(0.2)
        # cleanup() has returned: the slow response was written first.
        assert (await read_response(reader))[::2] == (200, {"slept": 2})
        writer.close()
        with pytest.raises(OSError):
            await connect(port)
    asyncio.run(main())


def test_accept_errors_are_logged_once_per_interval(caplog):
    async def main():
        loop = asyncio.get_running_loop()
        seen = []
        loop.set_exception_handler(lambda loop, context: seen.append(context))
        handle = install_accept_error_log(loop, 0.2)
        assert loop.get_exception_handler() is handle
        failure = {"message": ACCEPT_ERROR,
                   "exception": OSError(errno.EMFILE, "Too many open files")}
        with caplog.at_level(logging.WARNING, logger="serving"):
            for _ in range(100):
                handle(loop, failure)
            assert len(caplog.records) == 1
            assert "Too many open files" in caplog.records[0].getMessage()
            await asyncio.sleep(0.3)
            assert len(caplog.records) == 2
            assert "99 more failures" in caplog.records[1].getMessage()
            await asyncio.sleep(0.3)  # no more failures: no more lines
            assert len(caplog.records) == 2
            handle(loop, failure)  # a new failure is logged at once
            assert len(caplog.records) == 3
        other = {"message": "Task exception was never retrieved"}
        handle(loop, other)
        assert seen == [other]
    asyncio.run(main())


def test_other_contexts_reach_the_default_handler_without_a_previous_one(caplog):
    async def main():
        loop = asyncio.get_running_loop()
        handle = install_accept_error_log(loop, 60)
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            handle(loop, {"message": "something else broke"})
        assert "something else broke" in caplog.text
    asyncio.run(main())


@pytest.mark.parametrize("field, value", [
    ("header_timeout_s", 0), ("idle_timeout_s", -1), ("body_timeout_s", "30"),
    ("max_connections", 0), ("max_connections", 2.5), ("max_connections", True),
    ("accept_error_log_interval_s", float("nan")),
])
def test_bad_limits_name_the_field_and_value(field, value):
    with pytest.raises(ValueError, match=rf"ConnectionLimits\.{field} .*got {value!r}"):
        ConnectionLimits(**{field: value})


def test_default_limits_close_a_stalled_client_within_a_minute():
    limits = ConnectionLimits()
    assert (limits.header_timeout_s, limits.idle_timeout_s, limits.body_timeout_s,
            limits.max_connections, limits.accept_error_log_interval_s) == (10, 30, 30, 1024, 60)
    assert max(limits.header_timeout_s, limits.idle_timeout_s, limits.body_timeout_s) < 60


def test_raise_open_file_limit_sets_the_soft_limit_to_the_hard_one():
    before, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft = raise_open_file_limit()
    assert soft == resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= before
    if hard != resource.RLIM_INFINITY:
        assert soft == hard
