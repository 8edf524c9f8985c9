package view

import (
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"example.com/app/reloader"
)

// IsTerminal reports whether w is a terminal.
func IsTerminal(w any) bool { return isTerminal(w) }

// Colorful reports whether output to w gets colours: a terminal, unless
// NO_COLOR is set (no-color.org) or TERM is dumb.
func Colorful(w io.Writer) bool { return colorful(w) }

// colorful reports whether output to w gets colours: a terminal, unless
// NO_COLOR is set (no-color.org) or TERM is dumb.
func colorful(w io.Writer) bool {
	return isTerminal(w) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}

// ANSI colours (SGR parameters).
const (
	green  = "32"
	yellow = "33"
	red    = "31;1"
	dim    = "2"
	bold   = "1"
	cyan   = "36"
)

// paint wraps s in an SGR colour when on is set.
func paint(on bool, sgr, s string) string {
	if !on || sgr == "" || s == "" {
		return s
	}
	return "\x1b[" + sgr + "m" + s + "\x1b[0m"
}

// stateColor is the colour of a unit's state as status and top show it.
func stateColor(u reloader.Unit) string {
	switch {
	case u.Result == "exec-condition" || u.ActiveState == "failed":
		return red
	case u.ActiveState == "active" && (u.SubState == "running" || u.SubState == "listening" || u.SubState == ""):
		return green
	case u.ActiveState == "inactive":
		return dim
	default:
		return yellow
	}
}

// printable makes text that came from an instance or its logs safe to
// show on a terminal: control characters (an ESC that starts a terminal
// command, a BEL, a carriage return that hides what came before) are
// shown as escapes instead, \x1b; tabs are kept; bytes that are not UTF-8
// become U+FFFD. --json output is escaped by JSON itself instead.
// Printable is printable: text from an instance, safe for a terminal.
func Printable(s string) string { return printable(s) }

func printable(s string) string {
	clean := true
	for _, r := range s {
		if unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case !unsafeRune(r):
			b.WriteRune(r)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// unsafeRune is a control character other than tab: C0, DEL, C1.
func unsafeRune(r rune) bool {
	return r != '\t' && (r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0)
}

// cell is one column of a table row, with its colour.
type cell struct {
	text  string
	color string
}

// table aligns columns by their visible width, so colours do not shift
// them (tabwriter counts escape sequences as text).
type table struct {
	rows  [][]cell
	right map[int]bool // right-aligned columns
}

// add adds a row; its texts are made printable.
func (t *table) add(cells ...cell) {
	for i := range cells {
		cells[i].text = printable(cells[i].text)
	}
	t.rows = append(t.rows, cells)
}

// plain makes cells without colour.
func plain(texts ...string) []cell {
	cs := make([]cell, len(texts))
	for i, s := range texts {
		cs[i] = cell{text: s}
	}
	return cs
}

func (t *table) write(w io.Writer, color bool) {
	var width []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(c.text))
		}
	}
	var b strings.Builder
	for _, r := range t.rows {
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c.text))
			if t.right[i] {
				b.WriteString(pad)
			}
			b.WriteString(paint(color, c.color, c.text))
			if i < len(r)-1 {
				if !t.right[i] {
					b.WriteString(pad)
				}
				b.WriteString("  ")
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprint(w, b.String())
}
