"""Tests of app_cluster's own logic (standard library only: python3 -m
unittest). The worker itself is proven under gunicorn on a real systemd,
under load, by the guide's e2e test (e2e/guides_test.go)."""

import asyncio
import socket
import unittest

import app_cluster


class ParseDuration(unittest.TestCase):
    def test_what_app_writes(self):
        self.assertEqual(app_cluster.parse_duration("27s"), 27)
        self.assertEqual(app_cluster.parse_duration("1m30s"), 90)
        self.assertAlmostEqual(app_cluster.parse_duration("500ms"), 0.5)
        self.assertEqual(app_cluster.parse_duration("0"), 0)
        self.assertAlmostEqual(app_cluster.parse_duration("250"), 0.25)

    def test_bad_values_are_named(self):
        for bad in ["soon", "5s later", "", "s5", "5 s"]:
            with self.assertRaisesRegex(ValueError, r"APP_LAME_DUCK=.*want a duration"):
                app_cluster.parse_duration(bad, "APP_LAME_DUCK")


class ConnectionCloseTest(unittest.TestCase):
    def run_app(self, draining, headers):
        sent = []

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"ok"})

        async def send(message):
            sent.append(message)

        async def receive():
            return {"type": "http.request"}

        mw = app_cluster.ConnectionClose(app, lambda: draining)
        asyncio.run(mw({"type": "http"}, receive, send))
        return sent

    def test_untouched_while_serving(self):
        sent = self.run_app(False, [(b"x-version", b"1")])
        self.assertEqual(sent[0]["headers"], [(b"x-version", b"1")])

    def test_connection_close_while_draining(self):
        sent = self.run_app(True, [(b"x-version", b"1"), (b"Connection", b"keep-alive")])
        self.assertEqual(sent[0]["headers"], [(b"x-version", b"1"), (b"connection", b"close")])
        self.assertEqual(sent[1]["body"], b"ok")

    def test_other_scopes_pass_through(self):
        seen = []

        async def app(scope, receive, send):
            seen.append(scope["type"])

        asyncio.run(app_cluster.ConnectionClose(app, lambda: True)({"type": "lifespan"}, None, None))
        self.assertEqual(seen, ["lifespan"])

    def test_the_worker_is_loaded_only_when_asked(self):
        with self.assertRaises(AttributeError):
            app_cluster.NoSuchThing


class _Answer(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        self.transport.close()


class StopAccepting(unittest.TestCase):
    """On real sockets: 50 clients queue a request on a listening socket
    before an asyncio server on it starts."""

    N = 50

    def setUp(self):
        self.listener = socket.socket()
        self.addCleanup(self.listener.close)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.listener.setblocking(False)
        # What the other processes sharing the socket hold: a copy of it.
        self.other = self.listener.dup()
        self.addCleanup(self.other.close)
        self.clients = []
        for _ in range(self.N):
            c = socket.create_connection(self.listener.getsockname(), timeout=5)
            self.addCleanup(c.close)
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            self.clients.append(c)

    def answered(self):
        n = 0
        for c in self.clients:
            c.settimeout(2)
            try:
                if c.recv(100).startswith(b"HTTP/1.1 200"):
                    n += 1
            except OSError:
                pass
        return n

    def test_what_was_accepted_is_answered(self):
        # SIGTERM handled in the turn of the loop that accepted the batch:
        # stop_accepting runs right after asyncio's accept.
        async def main():
            loop = asyncio.get_running_loop()
            servers = []
            accept = loop._accept_connection  # asyncio's selector loop (what uvicorn runs on)

            def accept_then_stop(*args, **kwargs):
                accept(*args, **kwargs)
                app_cluster.stop_accepting(loop, servers)

            loop._accept_connection = accept_then_stop
            servers.append(await loop.create_server(_Answer, sock=self.listener, backlog=2048))
            await asyncio.sleep(0.3)
            servers[0].close()

        asyncio.run(main())
        self.assertEqual(self.answered(), self.N)

    def test_the_queue_is_left_to_the_others(self):
        async def main():
            loop = asyncio.get_running_loop()
            server = await loop.create_server(_Answer, sock=self.listener, backlog=2048, start_serving=False)
            await server.start_serving()
            app_cluster.stop_accepting(loop, [server])
            await asyncio.sleep(0.3)
            return server

        server = asyncio.run(main())
        self.assertTrue(server.is_serving(), "the server stays open until uvicorn closes it")
        taken = 0
        self.other.settimeout(1)
        for _ in range(self.N):
            conn, _ = self.other.accept()
            conn.close()
            taken += 1
        self.assertEqual(taken, self.N, "every queued connection is still there for the other processes")


if __name__ == "__main__":
    unittest.main()
