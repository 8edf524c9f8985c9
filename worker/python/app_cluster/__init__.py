"""app_cluster: Python servers as instances of app's cluster.

gunicorn already does what an instance needs but one thing: it takes the
sockets systemd passes (LISTEN_FDS), says READY=1 from its master once
its workers are spawned, and stops gracefully on SIGTERM. Its sync
workers answer each request on a connection of its own, so a rollout
under load loses nothing (measured, docs/guides/python-wsgi.md).

Its ASGI workers (uvicorn's) keep connections alive, and on SIGTERM
uvicorn closes at once every connection that has no request in progress:
the idle keep-alive ones, whose clients may be sending on them that very
moment, and the ones it has just accepted but not read yet. Under load
that lost 39 requests in two rollouts. app_cluster.UvicornWorker is
uvicorn's gunicorn worker with a lame-duck drain, as app's reference
worker has: on SIGTERM it stops accepting at once (the shared socket's
queue goes to the other instances), answers every request with
`Connection: close` for APP_LAME_DUCK (500ms), and only then lets uvicorn
shut down, within gunicorn's --graceful-timeout:

    gunicorn --pythonpath /usr/share/app/python \\
        --worker-class app_cluster.UvicornWorker app:app

This module needs nothing but the standard library; the worker class is
loaded (with uvicorn) only when asked for.
"""

import re

__all__ = ["parse_duration", "ConnectionClose", "stop_accepting", "UvicornWorker"]

_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse_duration(value, name="duration"):
    """Read a Go duration ("500ms", "1m30s", "0"), as app writes them, into
    seconds; a bare number is milliseconds, as pm2's kill_timeout is."""
    s = str(value).strip()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s) / 1000
    total, at = 0.0, 0
    for m in _PART.finditer(s):
        if m.start() != at:
            break
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        at = m.end()
    if not s or at != len(s):
        raise ValueError('%s=%r: want a duration such as "500ms" or "25s"' % (name, value))
    return total


class ConnectionClose:
    """ASGI middleware: while draining() is true, every HTTP response says
    `Connection: close`, so that a keep-alive client leaves after it
    instead of racing the server's close."""

    def __init__(self, app, draining):
        self.app = app
        self.draining = draining

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_closing(message):
            if message["type"] == "http.response.start" and self.draining():
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                headers.append((b"connection", b"close"))
                message = dict(message, headers=headers)
            await send(message)

        return await self.app(scope, receive, send_closing)


def stop_accepting(loop, servers):
    """Stop taking connections from the servers' listening sockets, now,
    and lose none already taken.

    asyncio.Server.close() would do the first, but not the second: asyncio
    accepts a whole batch of queued connections in one turn of the loop
    and makes their transports in the next, and a server closed in
    between (a SIGTERM handled in the same turn) drops them unread: their
    clients get a reset (Python 3.11, measured: TestGuides/uvicorn lost 7
    requests so). Taking the sockets out of the loop's selector stops the
    accepting and leaves the server open until uvicorn closes it, after
    the lame-duck window; the sockets stay open (the other processes
    share them) and their queue goes to the other workers. A loop that
    does not accept through its selector (uvloop) makes its transports at
    once: there, closing the server is safe, and done.
    """
    for server in servers:
        removed = False
        for sock in server.sockets or ():
            removed = loop.remove_reader(sock.fileno()) or removed
        if not removed:
            server.close()


def __getattr__(name):
    if name == "UvicornWorker":
        from app_cluster._uvicorn import UvicornWorker

        return UvicornWorker
    raise AttributeError("module 'app_cluster' has no attribute %r" % name)
