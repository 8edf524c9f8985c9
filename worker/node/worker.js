// The reference worker in Node.js, with no dependencies: the same routes and
// headers as /usr/bin/app, runnable under both managers that the
// benchmarks compare.
//
// Under app's cluster (script = "/usr/bin/node", args = [this file]):
// systemd passes the shared socket as fd 3 (LISTEN_FDS; with socket =
// "reuseport" the instance's own socket too, as fd 4), and READY=1 goes to
// systemd with systemd-notify; Node cannot send to a Unix datagram socket
// itself. --pid makes the message come from this process, the unit's main
// PID, so NotifyAccess=main accepts it (root can send on behalf of a PID).
//
// Under pm2 cluster mode (the recipe pm2 users follow): it listens on PORT
// through pm2's master, sends process.send('ready') for wait_ready, and
// on SIGINT answers with Connection: close and exits once its connections
// are done, within kill_timeout.
'use strict';
const http = require('http');
const { execFile } = require('child_process');

const instance = process.env.APP_INSTANCE || process.env.NODE_APP_INSTANCE || 'local';
const version = process.env.APP_VERSION || 'node';
const lameDuckMs = Number(process.env.APP_LAME_DUCK_MS || 500);
const drainMs = Number(process.env.APP_DRAIN_TIMEOUT_MS || 25000);
let draining = false;

function handle(req, res) {
  res.setHeader('X-Instance', instance);
  res.setHeader('X-Version', version);
  if (draining) {
    res.setHeader('Connection', 'close');
  }
  if (req.url === '/healthz') {
    res.statusCode = draining ? 503 : 200;
    res.end(draining ? 'draining\n' : 'ok\n');
    return;
  }
  res.end(`instance=${instance} version=${version} pid=${process.pid}\n`);
}

// One server per listening socket: an http.Server listens once.
const servers = [];
function newServer() {
  const s = http.createServer(handle);
  s.keepAliveTimeout = 65000;
  servers.push(s);
  return s;
}

function ready() {
  if (process.env.NOTIFY_SOCKET) {
    execFile('systemd-notify', ['--ready', `--pid=${process.pid}`, `--status=serving version ${version}`], (err) => {
      if (err) {
        console.error(`systemd-notify: ${err.message}`);
        process.exit(1);
      }
    });
  } else if (process.send) {
    process.send('ready');
  }
  console.log(`serving instance=${instance} version=${version} pid=${process.pid}`);
}

const activated = process.env.LISTEN_FDS && Number(process.env.LISTEN_PID) === process.pid;
if (activated) {
  // Serve every socket passed (fds 3 … 3+LISTEN_FDS-1); ready once all listen.
  const n = Number(process.env.LISTEN_FDS);
  let listening = 0;
  for (let fd = 3; fd < 3 + n; fd++) {
    newServer().listen({ fd }, () => {
      if (++listening === n) {
        ready();
      }
    });
  }
} else {
  newServer().listen(Number(process.env.PORT || 8080), process.env.HOST || '127.0.0.1', ready);
}

function drain(sig) {
  if (draining) {
    return;
  }
  draining = true;
  console.log(`${sig}: draining`);
  // Lame duck first: keep accepting and serving, with Connection: close,
  // so that keep-alive clients leave after their next response instead of
  // racing a close (Node's server.close() closes idle connections at once).
  // Then stop accepting, close what is idle, and exit once the rest is done.
  setTimeout(() => {
    let open = servers.length;
    for (const s of servers) {
      s.close(() => {
        if (--open === 0) {
          process.exit(0);
        }
      });
      s.closeIdleConnections();
    }
  }, lameDuckMs);
  setTimeout(() => process.exit(0), drainMs).unref();
}
process.on('SIGTERM', () => drain('SIGTERM'));
process.on('SIGINT', () => drain('SIGINT'));
