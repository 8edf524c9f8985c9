package worker

import _ "embed"

// NodeJS is the reference worker in Node.js (node/worker.js): the same
// routes and headers, for a worker of another language under the cluster
// and for the benchmarks against pm2. The package installs it as
// /usr/share/doc/app/examples/worker.js.
//
//go:embed node/worker.js
var NodeJS []byte

// NodeJSPath is where the package installs [NodeJS].
const NodeJSPath = "/usr/share/doc/app/examples/worker.js"
