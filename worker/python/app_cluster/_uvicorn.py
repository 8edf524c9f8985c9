"""uvicorn's gunicorn worker with a lame-duck drain (see app_cluster)."""

import asyncio
import os
import sys

from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn.workers import UvicornWorker as _UvicornWorker

from app_cluster import ConnectionClose, parse_duration, stop_accepting


class _LameDuckServer(Server):
    lame_duck = 0.5
    draining = False

    def handle_exit(self, sig, frame):
        if self.draining:
            # A second signal: as uvicorn has it (SIGINT forces the exit).
            return Server.handle_exit(self, sig, frame)
        self.draining = True
        # Stop accepting now, keeping what this turn of the loop accepted;
        # the shared sockets' queue goes to the other processes.
        loop = asyncio.get_event_loop()
        stop_accepting(loop, getattr(self, "servers", []))
        loop.call_later(self.lame_duck, Server.handle_exit, self, sig, frame)


class UvicornWorker(_UvicornWorker):
    """gunicorn --worker-class app_cluster.UvicornWorker: uvicorn's worker,
    draining with a lame-duck window (APP_LAME_DUCK, default 500ms)."""

    async def _serve(self):
        server = _LameDuckServer(config=self.config)
        server.lame_duck = parse_duration(os.environ.get("APP_LAME_DUCK", "500ms"), "APP_LAME_DUCK")
        self.config.app = ConnectionClose(self.wsgi, lambda: server.draining)
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
