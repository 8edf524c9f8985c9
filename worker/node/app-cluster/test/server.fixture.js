// A server under app-cluster, for the tests: / answers with its PID,
// /slow?ms=N after N milliseconds. FIXTURE_GIVE_SERVER=1 hands serve() an
// http.Server instead of a request listener.
'use strict';
const http = require('http');
const { serve } = require('..');

const handler = (req, res) => {
  const url = new URL(req.url, 'http://x');
  const ms = url.pathname === '/slow' ? Number(url.searchParams.get('ms')) : 0;
  setTimeout(() => res.end(`pid=${process.pid}\n`), ms);
};
const cluster = serve(process.env.FIXTURE_GIVE_SERVER ? http.createServer(handler) : handler, { status: 'serving the fixture' });
cluster.ready.then(() => console.log(`listening on ${cluster.servers.length} server(s)`));
