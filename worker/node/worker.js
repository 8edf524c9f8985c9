// The reference worker in Node.js: the same routes and headers as
// /usr/bin/app, on the app-cluster helper this package ships
// (/usr/share/nodejs/app-cluster), runnable under both managers that the
// benchmarks compare.
//
// Under app's cluster (script = "/usr/bin/node", args = [this file]): the
// helper serves the sockets systemd passes (fd 3; with socket =
// "reuseport" the instance's own socket too, as fd 4) and the instance's
// probe socket, sends READY=1 with systemd-notify (Node cannot send to a
// Unix datagram socket itself; app's unit has NotifyAccess=all, so a
// child's message counts), drains on SIGTERM and caps keep-alive
// connections. No privilege is needed or used.
//
// Under pm2 cluster mode (the recipe pm2 users follow): it listens on PORT
// through pm2's master, sends process.send('ready') for wait_ready, and on
// SIGINT answers with Connection: close and exits once its connections are
// done, within kill_timeout.
'use strict';
const fs = require('fs');
const path = require('path');

// The helper as the package installs it, or beside this file in the source
// tree.
const installed = '/usr/share/nodejs/app-cluster';
const cluster = require(fs.existsSync(installed) ? installed : path.join(__dirname, 'app-cluster'));

const instance = process.env.APP_INSTANCE || process.env.NODE_APP_INSTANCE || 'local';
const version = process.env.APP_VERSION || 'node';

const c = cluster.serve(
  (req, res) => {
    res.setHeader('X-Instance', instance);
    res.setHeader('X-Version', version);
    if (req.url === '/healthz') {
      res.statusCode = c.draining ? 503 : 200;
      res.end(c.draining ? 'draining\n' : 'ok\n');
      return;
    }
    res.end(`instance=${instance} version=${version} pid=${process.pid}\n`);
  },
  { status: `serving version ${version}` }
);
c.ready.then(() => console.log(`serving instance=${instance} version=${version} pid=${process.pid}`));
