"""Tests of app_cluster's own logic (standard library only: python3 -m
unittest). The worker itself is proven under gunicorn on a real systemd,
under load, by the guide's e2e test (e2e/guides_test.go)."""

import asyncio
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


if __name__ == "__main__":
    unittest.main()
