package units

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// MaxPM2File is the largest ecosystem file read, in any form.
const MaxPM2File = 1 << 20

// ErrPM2JavaScript: the ecosystem file is JavaScript (ecosystem.config.js),
// which only node can read: [EvalPM2JS].
var ErrPM2JavaScript = errors.New("a JavaScript ecosystem file: node evaluates it")

// PM2Format tells an ecosystem file's form by its name, as pm2 does, then
// by its content: "json", "yaml" or "js".
func PM2Format(name string, data []byte) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".js", ".cjs", ".mjs":
		return "js"
	case ".yml", ".yaml":
		return "yaml"
	case ".json":
		return "json"
	}
	d := bytes.TrimSpace(data)
	switch {
	case bytes.HasPrefix(d, []byte("{")) || bytes.HasPrefix(d, []byte("[")):
		return "json"
	case bytes.Contains(d, []byte("module.exports")) || bytes.Contains(d, []byte("export default")):
		return "js"
	}
	return "yaml"
}

// PM2Data returns an ecosystem file in JSON form, for [ImportPM2]: JSON as
// it is, YAML (pm2's process.yml) converted; for JavaScript it returns
// ErrPM2JavaScript.
func PM2Data(name string, data []byte) ([]byte, error) {
	if len(data) > MaxPM2File {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d an ecosystem file may have: %w", name, len(data), MaxPM2File, ErrPM2)
	}
	switch PM2Format(name, data) {
	case "js":
		return nil, fmt.Errorf("%s: %w", name, ErrPM2JavaScript)
	case "json":
		return data, nil
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%s: not YAML: %v: %w", name, err, ErrPM2)
	}
	v, err := jsonable(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %w", name, err, ErrPM2)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %w", name, err, ErrPM2)
	}
	return out, nil
}

// jsonable turns what YAML decoded into what JSON can hold: mappings with
// keys that are not strings (yes: true, 1: x) get their keys as text.
func jsonable(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			j, err := jsonable(x)
			if err != nil {
				return nil, err
			}
			v[k] = j
		}
		return v, nil
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			j, err := jsonable(x)
			if err != nil {
				return nil, err
			}
			m[fmt.Sprint(k)] = j
		}
		return m, nil
	case []any:
		for i, x := range v {
			j, err := jsonable(x)
			if err != nil {
				return nil, err
			}
			v[i] = j
		}
		return v, nil
	case time.Time:
		return v.Format(time.RFC3339Nano), nil
	}
	return v, nil
}

// evalJS prints the module's export as JSON: a CommonJS module
// (module.exports), or an ES module's default export.
const evalJS = `const p = process.argv[1];
const pick = (m) => (m && typeof m === 'object' && m.default !== undefined && (m.__esModule || m[Symbol.toStringTag] === 'Module') ? m.default : m);
const out = (v) => process.stdout.write(JSON.stringify(pick(v)));
try {
  out(require(p));
} catch (e) {
  if (e.code !== 'ERR_REQUIRE_ESM') throw e;
  import(require('url').pathToFileURL(p)).then(out);
}`

// PM2JSTimeout bounds the evaluation of a JavaScript ecosystem file.
var PM2JSTimeout = 10 * time.Second

// EvalPM2JS evaluates a JavaScript ecosystem file with node (found on
// PATH), as pm2 does, and returns its export as JSON. node runs under its
// permission model (Node.js 20 and later): the file may read what is in
// its own directory and nothing else, write nothing, and start no process;
// a node without it is not used, and the error says how to convert the
// file by hand.
func EvalPM2JS(ctx context.Context, file string) ([]byte, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	byHand := fmt.Sprintf(`print it as JSON and import that: node -e 'console.log(JSON.stringify(require("%s")))' > ecosystem.json`, abs)
	node, err := exec.LookPath("node")
	if err != nil {
		if node, err = exec.LookPath("nodejs"); err != nil {
			return nil, fmt.Errorf("%s: reading a JavaScript ecosystem file needs node on PATH (apt-get install nodejs); or %s: %w", file, byHand, ErrPM2)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, PM2JSTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--no-warnings", "--experimental-permission", "--allow-fs-read="+filepath.Dir(abs)+"/*", "-e", evalJS, abs)
	cmd.Dir = filepath.Dir(abs)
	var stderr bytes.Buffer
	cmd.Stderr = &limited{w: &stderr, n: 64 << 10}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: node: %w", file, err)
	}
	out, rerr := io.ReadAll(io.LimitReader(stdout, MaxPM2File+1))
	werr := cmd.Wait()
	msg := strings.TrimSpace(stderr.String())
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%s: node did not finish within %s: %w", file, PM2JSTimeout, ErrPM2)
	case strings.Contains(msg, "bad option: --experimental-permission"):
		return nil, fmt.Errorf("%s: this node has no permission model (Node.js 20 or later has) to evaluate the file confined; %s: %w", file, byHand, ErrPM2)
	case werr != nil:
		return nil, fmt.Errorf("%s: node could not evaluate it (it may read files in its own directory only, and start nothing): %v: %s: %w", file, werr, lastLines(msg, 6), ErrPM2)
	case rerr != nil:
		return nil, fmt.Errorf("%s: node: %w", file, rerr)
	case len(out) > MaxPM2File:
		return nil, fmt.Errorf("%s: its export is more than %d bytes as JSON: %w", file, MaxPM2File, ErrPM2)
	case len(bytes.TrimSpace(out)) == 0:
		return nil, fmt.Errorf("%s: exports nothing (module.exports = { apps: [...] }): %w", file, ErrPM2)
	}
	return out, nil
}

// limited writes up to n bytes to w and drops the rest.
type limited struct {
	w io.Writer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if l.n > 0 {
		q := p
		if len(q) > l.n {
			q = q[:l.n]
		}
		l.n -= len(q)
		if _, err := l.w.Write(q); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
