package worker

import _ "embed"

// NodeJS is the reference worker in Node.js (node/worker.js): the same
// routes and headers, for a worker of another language under the cluster
// and for the benchmarks against pm2. The package installs it as
// /usr/share/app/worker.js (and a link to it where the first releases had
// it, /usr/share/doc/app/examples/worker.js).
//
//go:embed node/worker.js
var NodeJS []byte

// NodeJSPath is where the package installs [NodeJS].
const NodeJSPath = "/usr/share/app/worker.js"

// NodeHelper is the app-cluster Node.js module (node/app-cluster), which
// [NodeJS] runs on: its files by name.
var NodeHelper = map[string][]byte{"index.js": nodeHelperIndex, "package.json": nodeHelperPackage}

// NodeHelperDir is where the package installs [NodeHelper].
const NodeHelperDir = "/usr/share/nodejs/app-cluster"

var (
	//go:embed node/app-cluster/index.js
	nodeHelperIndex []byte
	//go:embed node/app-cluster/package.json
	nodeHelperPackage []byte
)
