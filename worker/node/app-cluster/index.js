// app-cluster: a Node.js HTTP server as an instance of app's cluster, in
// one line:
//
//   require('/usr/share/nodejs/app-cluster').serve(handler);
//
// handler is a request listener ((req, res) => …, an express app) or an
// http.Server. What it does for the server, so that a rollout loses no
// request:
//
// - takes the sockets systemd passes (LISTEN_FDS: fd 3, and fd 4 with
//   socket = "reuseport"), and the instance's probe socket
//   (APP_PROBE_SOCKET); outside systemd it listens on PORT (pm2, a laptop);
// - says READY=1 once every socket accepts, with systemd-notify: Node
//   cannot send to a Unix datagram socket itself (its dgram module has
//   UDP only), and app's unit accepts readiness from any process of the
//   instance (NotifyAccess=all); under pm2 it sends process.send('ready');
// - drains on SIGTERM (and SIGINT, pm2's): stops accepting at once, so the
//   shared socket's queue goes to the other instances; answers with
//   `Connection: close` for a lame-duck window, so keep-alive clients
//   leave after their next response rather than racing a close (Node's
//   server.close() closes idle connections at once: that lost requests);
//   then closes what is idle and exits once the rest is answered, within
//   APP_DRAIN_TIMEOUT (which app sets below the unit's stop timeout);
// - caps each keep-alive connection's age and request count, so that
//   after a rollout the clients reconnect and their load spreads again;
// - takes turns with the other instances on the shared socket while it
//   is not busy: Node's event loop accepts whatever is queued whenever it
//   wakes, and every instance wakes for every connection, so one that is
//   scheduled first takes most of them. After each connection an idle
//   instance steps aside for a moment (a 1 µs sleep, about 50 µs with the
//   kernel's timer slack); a busy one does not, since it would only lose
//   throughput and the others are busy too.
//
// Every setting has an environment variable, which app.toml's [env] sets;
// an option passed to serve() wins.
'use strict';

const fs = require('fs');
const http = require('http');
const net = require('net');
const { execFile } = require('child_process');
const { performance } = require('perf_hooks');

// SD_LISTEN_FDS_START: the first passed socket (sd_listen_fds(3)).
const LISTEN_FDS_START = 3;

// units of a Go duration, as app writes APP_DRAIN_TIMEOUT ("27s", "1m30s").
const UNIT_MS = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };

// parseDuration reads a Go duration ("500ms", "1m30s", "0") into
// milliseconds; a bare number is milliseconds, as pm2's kill_timeout is.
function parseDuration(value, name = 'duration') {
  const s = String(value).trim();
  if (/^\d+(\.\d+)?$/.test(s)) {
    return Number(s);
  }
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let ms = 0;
  let at = 0;
  let m;
  while ((m = part.exec(s)) !== null) {
    ms += Number(m[1]) * UNIT_MS[m[2]];
    at = part.lastIndex;
  }
  if (s === '' || at !== s.length) {
    throw new Error(`${name}=${JSON.stringify(value)}: want a duration such as "500ms" or "25s"`);
  }
  return ms;
}

// listenFds returns the sockets systemd passed this process, as
// [{ fd, name }], or [] when none were (LISTEN_PID names another process:
// the variables were inherited, not meant for it).
function listenFds(env = process.env, pid = process.pid) {
  if (env.LISTEN_FDS === undefined || env.LISTEN_FDS === '') {
    return [];
  }
  if (Number(env.LISTEN_PID) !== pid) {
    return [];
  }
  const n = Number(env.LISTEN_FDS);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`LISTEN_FDS=${JSON.stringify(env.LISTEN_FDS)}: want a count of passed sockets`);
  }
  const names = (env.LISTEN_FDNAMES || '').split(':');
  const fds = [];
  for (let i = 0; i < n; i++) {
    fds.push({ fd: LISTEN_FDS_START + i, name: names[i] || 'unknown' });
  }
  return fds;
}

// notify sends sd_notify(3) assignments ("READY=1", "STATUS=…") to the
// service manager with systemd-notify, which waits until systemd has read
// them. It resolves to false when there is no manager to tell
// (NOTIFY_SOCKET unset), and rejects when systemd-notify fails.
function notify(assignments, env = process.env) {
  if (!env.NOTIFY_SOCKET) {
    return Promise.resolve(false);
  }
  return new Promise((resolve, reject) => {
    execFile('systemd-notify', assignments, { env, timeout: 10000 }, (err, _stdout, stderr) => {
      if (err) {
        reject(new Error(`systemd-notify ${assignments.join(' ')}: ${err.message}${stderr ? `: ${stderr.trim()}` : ''}`));
        return;
      }
      resolve(true);
    });
  });
}

// settings merges serve()'s options over the environment's.
function settings(options, env) {
  const duration = (opt, name, def) => (options[opt] !== undefined ? options[opt] : env[name] !== undefined && env[name] !== '' ? parseDuration(env[name], name) : def);
  const count = (opt, name, def) => {
    if (options[opt] !== undefined) {
      return options[opt];
    }
    if (env[name] === undefined || env[name] === '') {
      return def;
    }
    const n = Number(env[name]);
    if (!Number.isInteger(n) || n < 0) {
      throw new Error(`${name}=${JSON.stringify(env[name])}: want a whole number`);
    }
    return n;
  };
  const accept = options.accept || env.APP_ACCEPT || 'fair';
  if (accept !== 'fair' && accept !== 'node') {
    throw new Error(`APP_ACCEPT=${JSON.stringify(accept)}: want "fair" or "node"`);
  }
  return {
    port: options.port !== undefined ? options.port : Number(env.PORT || 8080),
    host: options.host || env.HOST || '127.0.0.1',
    probeSocket: options.probeSocket !== undefined ? options.probeSocket : env.APP_PROBE_SOCKET || '',
    lameDuck: duration('lameDuck', 'APP_LAME_DUCK', 500),
    drainTimeout: duration('drainTimeout', 'APP_DRAIN_TIMEOUT', 25000),
    maxConnAge: duration('maxConnAge', 'APP_MAX_CONN_AGE', 6000),
    maxConnRequests: count('maxConnRequests', 'APP_MAX_CONN_REQUESTS', 1000),
    accept,
    status: options.status,
    signals: options.signals || ['SIGTERM', 'SIGINT'],
    exit: options.exit !== undefined ? options.exit : true,
    log: options.log || console,
    onDrained: options.onDrained,
  };
}

// A connection's own caps, drawn between half the setting and all of it, so
// that clients that connected together do not all reconnect together.
const kCaps = Symbol('app-cluster caps');

function capsFor(socket, cfg) {
  if (!socket[kCaps]) {
    const jitter = () => 0.5 + Math.random() / 2;
    socket[kCaps] = {
      born: Date.now(),
      requests: 0,
      maxAge: cfg.maxConnAge > 0 ? cfg.maxConnAge * jitter() : Infinity,
      maxRequests: cfg.maxConnRequests > 0 ? Math.max(1, Math.round(cfg.maxConnRequests * jitter())) : Infinity,
    };
  }
  return socket[kCaps];
}

// idleMeter tells whether the event loop has been mostly idle lately.
function idleMeter() {
  let busy = 0;
  let last = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    busy = performance.eventLoopUtilization(now, last).utilization;
    last = now;
  }, 100);
  timer.unref();
  return { idle: () => busy < 0.5, stop: () => clearInterval(timer) };
}

const pause = new Int32Array(new SharedArrayBuffer(4));

// serve runs handler as an instance of app's cluster (see the top of this
// file). It returns { servers, ready, drain, draining }: ready is a promise
// that settles once READY=1 is sent (rejects if a socket cannot be served);
// drain(reason) starts the drain by hand.
function serve(handler, options = {}, env = process.env) {
  const cfg = settings(options, env);
  const given = handler instanceof http.Server ? handler : null;
  if (!given && typeof handler !== 'function') {
    throw new TypeError('app-cluster: serve(handler): want a request listener (req, res) or an http.Server');
  }
  let draining = false;
  const meter = cfg.accept === 'fair' ? idleMeter() : null;

  // Caps and drain, before the application sees the request.
  const mark = (req, res) => {
    const caps = capsFor(req.socket, cfg);
    caps.requests++;
    if (draining || caps.requests >= caps.maxRequests || Date.now() - caps.born >= caps.maxAge) {
      res.setHeader('Connection', 'close');
    }
  };
  const servers = [];
  const newServer = (first) => {
    let s;
    if (first && given) {
      s = given;
      s.prependListener('request', mark);
    } else {
      // Another socket of a given server: its request listeners (and
      // mark) run through it.
      s = http.createServer(
        given
          ? (req, res) => given.emit('request', req, res)
          : (req, res) => {
              mark(req, res);
              handler(req, res);
            }
      );
      // Longer than the idle timeout of most clients and load balancers
      // (Node's default of 5 s closes connections that clients still
      // count on).
      s.keepAliveTimeout = 65000;
    }
    servers.push(s);
    return s;
  };

  const fds = listenFds(env);
  const listens = [];
  const listen = (s, what, takeTurns) =>
    new Promise((resolve, reject) => {
      s.once('error', reject);
      if (takeTurns && meter) {
        s.on('connection', () => {
          if (!draining && meter.idle()) {
            Atomics.wait(pause, 0, 0, 0.001);
          }
        });
      }
      s.listen(what, () => {
        s.removeListener('error', reject);
        resolve();
      });
    });
  if (fds.length > 0) {
    fds.forEach(({ fd }, i) => listens.push(listen(newServer(i === 0), { fd }, true)));
  } else {
    listens.push(listen(newServer(true), { port: cfg.port, host: cfg.host }, false));
  }
  if (cfg.probeSocket) {
    listens.push(
      (async () => {
        let st = null;
        try {
          st = fs.lstatSync(cfg.probeSocket);
        } catch (err) {
          if (err.code !== 'ENOENT') {
            throw err;
          }
        }
        if (st && !st.isSocket()) {
          throw new Error(`probe socket ${cfg.probeSocket}: exists and is not a socket`);
        }
        if (st) {
          fs.unlinkSync(cfg.probeSocket); // left by the instance's previous process
        }
        await listen(newServer(false), { path: cfg.probeSocket }, false);
      })()
    );
  }

  const ready = Promise.all(listens).then(async () => {
    const status = cfg.status ? [`--status=${cfg.status}`] : [];
    const told = await notify(['--ready', ...status], env);
    if (!told && typeof process.send === 'function') {
      process.send('ready'); // pm2's wait_ready
    }
    cfg.log.log(`app-cluster: serving on ${fds.length > 0 ? `${fds.length} passed socket(s)` : `${cfg.host}:${cfg.port}`}${cfg.probeSocket ? ` and ${cfg.probeSocket}` : ''}, pid ${process.pid}`);
  });
  ready.catch((err) => {
    cfg.log.error(`app-cluster: ${err.message}`);
    if (cfg.exit) {
      process.exit(1);
    }
  });

  const drain = (reason) => {
    if (draining) {
      return;
    }
    draining = true;
    cfg.log.log(`app-cluster: ${reason}: draining (lame duck ${cfg.lameDuck} ms, at most ${cfg.drainTimeout} ms)`);
    notify(['STOPPING=1'], env).catch((err) => cfg.log.error(`app-cluster: ${err.message}`));
    let open = servers.length;
    const done = () => {
      if (--open > 0) {
        return;
      }
      if (meter) {
        meter.stop();
      }
      Promise.resolve(cfg.onDrained && cfg.onDrained()).finally(() => {
        cfg.log.log('app-cluster: drained');
        if (cfg.exit) {
          process.exit(0);
        }
      });
    };
    // Stop accepting now: net.Server's close, not http.Server's, which
    // would also close the idle keep-alive connections at once.
    for (const s of servers) {
      net.Server.prototype.close.call(s, done);
    }
    setTimeout(() => {
      for (const s of servers) {
        s.closeIdleConnections();
      }
    }, cfg.lameDuck).unref();
    setTimeout(() => {
      cfg.log.error(`app-cluster: requests still running after ${cfg.drainTimeout} ms: closing their connections`);
      for (const s of servers) {
        s.closeAllConnections();
      }
    }, cfg.drainTimeout).unref();
  };
  for (const sig of cfg.signals) {
    process.on(sig, () => drain(sig));
  }
  return { servers, ready, drain, get draining() { return draining; } };
}

module.exports = { serve, listenFds, notify, parseDuration, LISTEN_FDS_START };
