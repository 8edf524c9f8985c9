//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// Kinds of guide steps.
const (
	StepShell   = "sh"      // a ```sh block: commands run as root, in order
	StepRollout = "rollout" // a ```sh rollout block: how the guide rolls out a release
	StepFile    = "file"    // a block with file=PATH: a file the guide writes
)

// GuideStep is one fenced block of a runtime guide (docs/guides/*.md)
// that the guide's test carries out; blocks of other kinds (output shown,
// say) are left alone.
type GuideStep struct {
	Kind string
	Path string // StepFile: where it goes
	Body string
	Line int // of the opening fence, for messages
}

// ParseGuide reads a guide's steps in order: "```sh" runs, "```sh
// rollout" rolls out, "```<lang> file=/path" writes a file.
func ParseGuide(md []byte) ([]GuideStep, error) {
	var steps []GuideStep
	var cur *GuideStep
	var body strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(md))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if cur == nil {
			info, ok := strings.CutPrefix(line, "```")
			if !ok || info == "" {
				if ok {
					cur = &GuideStep{Line: n} // a plain block: skipped
				}
				continue
			}
			fields := strings.Fields(info)
			st := GuideStep{Line: n}
			for _, f := range fields[1:] {
				switch {
				case strings.HasPrefix(f, "file="):
					st.Kind, st.Path = StepFile, strings.TrimPrefix(f, "file=")
				case f == "rollout" && fields[0] == "sh":
					st.Kind = StepRollout
				default:
					return nil, fmt.Errorf("line %d: %q: unknown attribute %q", n, line, f)
				}
			}
			if st.Kind == "" && fields[0] == "sh" {
				st.Kind = StepShell
			}
			cur = &st
			body.Reset()
			continue
		}
		if strings.HasPrefix(line, "```") {
			if cur.Kind != "" {
				cur.Body = body.String()
				steps = append(steps, *cur)
			}
			cur = nil
			continue
		}
		body.WriteString(line)
		body.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: a block that does not end", cur.Line)
	}
	return steps, nil
}
