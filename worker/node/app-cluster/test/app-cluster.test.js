'use strict';
const assert = require('node:assert/strict');
const { fork } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { test } = require('node:test');

const { listenFds, parseDuration, notify } = require('..');
const { listeningSocket, notifyReceiver, startWorker, get, tmpdir, fixture } = require('./harness');

test('parseDuration reads what app writes, and says what is wrong', () => {
  assert.equal(parseDuration('27s'), 27000);
  assert.equal(parseDuration('1m30s'), 90000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('250'), 250, 'a bare number is milliseconds, as in pm2');
  assert.throws(() => parseDuration('soon', 'APP_DRAIN_TIMEOUT'), /APP_DRAIN_TIMEOUT="soon": want a duration/);
  assert.throws(() => parseDuration('5s later'), /want a duration/);
  assert.throws(() => parseDuration(''), /want a duration/);
});

test('listenFds takes only what was passed to this process', () => {
  assert.deepEqual(listenFds({}, 42), []);
  assert.deepEqual(listenFds({ LISTEN_FDS: '2', LISTEN_PID: '7' }, 42), [], 'inherited from a parent');
  assert.deepEqual(listenFds({ LISTEN_FDS: '2', LISTEN_PID: '42', LISTEN_FDNAMES: 'app.socket:app@0.socket' }, 42), [
    { fd: 3, name: 'app.socket' },
    { fd: 4, name: 'app@0.socket' },
  ]);
  assert.throws(() => listenFds({ LISTEN_FDS: 'x', LISTEN_PID: '42' }, 42), /LISTEN_FDS="x"/);
});

test('notify without a service manager tells nobody', async () => {
  assert.equal(await notify(['READY=1'], {}), false);
});

test('serves the passed socket, says READY=1 to systemd, drains on SIGTERM', async (t) => {
  const dir = tmpdir(t);
  const rx = await notifyReceiver(t, dir);
  const sock = await listeningSocket();
  const probe = path.join(dir, 'probe.sock');
  fs.writeFileSync(path.join(dir, 'placeholder'), '');
  net.createServer().listen(probe).close(); // a stale socket file, as a previous process leaves it
  const child = startWorker(t, sock.fd, { NOTIFY_SOCKET: rx.path, APP_PROBE_SOCKET: probe, APP_LAME_DUCK: '700ms', APP_MAX_CONN_REQUESTS: '0' });
  sock.server.close(); // only the worker holds it now

  const ready = await rx.until((m) => m.includes('READY=1'), 'READY=1');
  assert.match(ready, /STATUS=serving the fixture/);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const first = await get(sock.port, '/', agent);
  assert.equal(first.status, 200);
  assert.match(first.body, new RegExp(`pid=${child.pid}`));
  assert.notEqual(first.headers.connection, 'close');

  // The probe socket answers too, the stale file replaced.
  const viaProbe = await new Promise((resolve, reject) => {
    http.get({ socketPath: probe, path: '/' }, (res) => {
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve(b));
    }).on('error', reject);
  });
  assert.match(viaProbe, new RegExp(`pid=${child.pid}`));

  // A request in flight when SIGTERM comes finishes; a request on the idle
  // keep-alive connection in the lame-duck window is answered, with
  // Connection: close; new connections are no longer taken.
  const slowAgent = new http.Agent({ keepAlive: false });
  const slow = get(sock.port, '/slow?ms=1200', slowAgent);
  await new Promise((r) => setTimeout(r, 200));
  child.kill('SIGTERM');
  await rx.until((m) => m.includes('STOPPING=1'), 'STOPPING=1');
  const lameDuck = await get(sock.port, '/', agent);
  assert.equal(lameDuck.status, 200);
  assert.equal(lameDuck.headers.connection, 'close', 'keep-alive clients are told to leave');
  await assert.rejects(get(sock.port, '/', new http.Agent({ keepAlive: false })), /ECONNREFUSED/, 'no longer accepting');
  const slowRes = await slow;
  assert.equal(slowRes.status, 200, 'the request in flight is answered');
  const { code } = await child.exited;
  assert.equal(code, 0, child.output());
  assert.match(child.output(), /drained/);
  assert.equal(fs.existsSync(probe), false, 'the probe socket is removed on exit');
});

test('connection caps close keep-alive connections, so load spreads again', async (t) => {
  const sock = await listeningSocket();
  const child = startWorker(t, sock.fd, { APP_MAX_CONN_REQUESTS: '4', APP_MAX_CONN_AGE: '0' });
  sock.server.close();
  let out = '';
  await new Promise((resolve) => child.stdout.on('data', (d) => (out += d).includes('listening on') && resolve()));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const sockets = new Set();
  let closes = 0;
  for (let i = 0; i < 20; i++) {
    const res = await get(sock.port, '/', agent);
    sockets.add(res.socket);
    closes += res.headers.connection === 'close' ? 1 : 0;
  }
  // Each connection's cap is drawn between 2 and 4 requests.
  assert.ok(sockets.size >= 5 && sockets.size <= 10, `20 requests on ${sockets.size} connections`);
  assert.ok(closes >= 4, `${closes} responses said Connection: close`);
});

test('serves an http.Server it is given, on every passed socket', async (t) => {
  const a = await listeningSocket();
  const b = await listeningSocket();
  const { spawn } = require('node:child_process');
  const child = spawn('sh', ['-c', 'LISTEN_PID=$$ exec "$0" "$@"', process.execPath, fixture], {
    stdio: ['ignore', 'pipe', 'inherit', a.fd, b.fd],
    env: { PATH: process.env.PATH, LISTEN_FDS: '2', FIXTURE_GIVE_SERVER: '1' },
  });
  t.after(() => child.kill('SIGKILL'));
  a.server.close();
  b.server.close();
  let out = '';
  await new Promise((resolve) => child.stdout.on('data', (d) => (out += d).includes('listening on') && resolve()));
  assert.match(out, /serving on 2 passed socket/);
  assert.match(out, /listening on 2 server/);
  for (const port of [a.port, b.port]) {
    const res = await get(port, '/', new http.Agent({ keepAlive: false }));
    assert.match(res.body, new RegExp(`pid=${child.pid}`), `port ${port}`);
  }
});

test('outside systemd: listens on PORT and tells pm2 it is ready', async (t) => {
  const probe = net.createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const port = probe.address().port;
  await new Promise((r) => probe.close(r));
  const child = fork(fixture, [], { env: { PATH: process.env.PATH, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  t.after(() => child.kill('SIGKILL'));
  const msg = await new Promise((resolve) => child.on('message', resolve));
  assert.equal(msg, 'ready');
  const res = await get(port, '/', new http.Agent({ keepAlive: false }));
  assert.match(res.body, new RegExp(`pid=${child.pid}`));
  child.kill('SIGINT'); // pm2's stop signal
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 0);
});

test('a bad setting is refused with its name', async (t) => {
  const sock = await listeningSocket();
  const child = startWorker(t, sock.fd, { APP_DRAIN_TIMEOUT: 'forever' });
  sock.server.close();
  const { code } = await child.exited;
  assert.notEqual(code, 0);
  assert.match(child.output(), /APP_DRAIN_TIMEOUT="forever": want a duration/);
});

test('a probe path that is not a socket is refused, not removed', async (t) => {
  const dir = tmpdir(t);
  const probe = path.join(dir, 'http.sock');
  fs.writeFileSync(probe, 'precious');
  const sock = await listeningSocket();
  const child = startWorker(t, sock.fd, { APP_PROBE_SOCKET: probe });
  sock.server.close();
  const { code } = await child.exited;
  assert.equal(code, 1);
  assert.match(child.output(), /exists and is not a socket/);
  assert.equal(fs.readFileSync(probe, 'utf8'), 'precious');
});
