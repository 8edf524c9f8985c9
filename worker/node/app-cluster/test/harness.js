// Real sockets and real processes for the tests: a listening socket passed
// as fd 3 with LISTEN_PID set the way systemd sets it, and a notify socket
// read by a real receiver (Node has no Unix datagram sockets, so a small
// Python one).
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');

const fixture = path.join(__dirname, 'server.fixture.js');

function tmpdir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'app-cluster-test-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// listeningSocket returns a TCP socket listening on loopback and its port.
// The caller passes its fd to children and then closes its own copy, so
// that only the children accept.
async function listeningSocket() {
  const s = net.createServer();
  await new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen({ port: 0, host: '127.0.0.1' }, resolve);
  });
  return { server: s, fd: s._handle.fd, port: s.address().port };
}

// notifyReceiver binds a Unix datagram socket and collects what is sent
// to it, one message per datagram.
async function notifyReceiver(t, dir) {
  const sock = path.join(dir, 'notify');
  const py = spawn('python3', ['-u', '-c', `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    msg = s.recv(4096)
    print(msg.decode().replace("\\n", "|"), flush=True)
`, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => py.kill());
  const messages = [];
  const waiters = [];
  let buf = '';
  py.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      messages.push(line);
      waiters.splice(0).forEach((w) => w());
    }
  });
  const until = (pred, what, ms = 10000) =>
    new Promise((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms; got ${JSON.stringify(messages)}`)), ms);
      const check = () => {
        const m = messages.find(pred);
        if (m !== undefined) {
          clearTimeout(deadline);
          resolve(m);
        } else {
          waiters.push(check);
        }
      };
      check();
    });
  await until((m) => m === 'bound', 'bound');
  return { path: sock, messages, until };
}

// startWorker runs the fixture with the socket as fd 3, LISTEN_PID its own
// PID (sh's $$, kept across exec) and the given environment.
function startWorker(t, fd, env) {
  const child = spawn('sh', ['-c', 'LISTEN_PID=$$ exec "$0" "$@"', process.execPath, fixture], {
    stdio: ['ignore', 'pipe', 'pipe', fd],
    env: { PATH: process.env.PATH, LISTEN_FDS: '1', LISTEN_FDNAMES: 'app.socket', ...env },
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.output = () => out;
  t.after(() => child.kill('SIGKILL'));
  return child;
}

// get sends one request on agent and resolves to { status, headers, body }.
function get(port, urlPath, agent) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body, socket: req.socket }));
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error(`GET ${urlPath}: timed out`)));
  });
}

module.exports = { listeningSocket, notifyReceiver, startWorker, get, tmpdir, fixture };
