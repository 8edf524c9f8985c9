package activation_test

import (
	"net"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/activation"
)

func TestListenersByName(t *testing.T) {
	web, webF := listenerFile(t)
	admin, adminF := listenerFile(t)
	readWeb := dialAndRead(t, web.Addr().String())
	readAdmin := dialAndRead(t, admin.Addr().String())

	cmd := activatedChild(t, "names", []*os.File{webF, adminF}, "LISTEN_FDNAMES=web:admin")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	got := lines(out)
	assert.ElementsMatch(t, []string{
		"listener web " + web.Addr().String(),
		"listener admin " + admin.Addr().String(),
		`env LISTEN_FDS="" LISTEN_PID="" LISTEN_FDNAMES=""`, // unset for children
	}, got)
	assert.Equal(t, "web", readWeb(), "the child accepted on the passed web socket")
	assert.Equal(t, "admin", readAdmin())
}

func TestListenersUnnamedGetDefaultName(t *testing.T) {
	l, f := listenerFile(t)
	read := dialAndRead(t, l.Addr().String())
	out, err := activatedChild(t, "names", []*os.File{f}).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, lines(out), "listener LISTEN_FD_3 "+l.Addr().String())
	assert.Equal(t, "LISTEN_FD_3", read())
}

func TestListenersRejectsNonSocket(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	out, err := activatedChild(t, "names", []*os.File{r}, "LISTEN_FDNAMES=pipe").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), `error fd 3 ("pipe") is not a listening socket`)
	assert.NotContains(t, string(out), "listener")
}

func TestListenersOtherPID(t *testing.T) {
	_, f := listenerFile(t)
	cmd := activatedChild(t, "names", []*os.File{f})
	// LISTEN_PID names the shell's parent, not the child: not for us.
	cmd.Args[2] = `LISTEN_PID=$PPID; export LISTEN_PID; exec "$0" "$@"`
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, lines(out), "ErrNotActivated")
}

func TestListenPicksName(t *testing.T) {
	web, webF := listenerFile(t)
	_, otherF := listenerFile(t)
	read := dialAndRead(t, web.Addr().String())
	out, err := activatedChild(t, "listen", []*os.File{webF, otherF},
		"LISTEN_FDNAMES=web:other", "HELPER_NAME=web").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, []string{"listener " + web.Addr().String()}, lines(out)[:1])
	assert.Equal(t, "listen", read())
}

func TestListenUnknownName(t *testing.T) {
	_, f := listenerFile(t)
	out, err := activatedChild(t, "listen", []*os.File{f},
		"LISTEN_FDNAMES=web", "HELPER_NAME=admin", "HELPER_FALLBACK=127.0.0.1:0").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), `listener "admin" (passed: web)`)
	assert.Contains(t, lines(out), "ErrNoListener", "a passed socket set without the name must not fall back")
}

func TestListenFallsBackWhenNotActivated(t *testing.T) {
	t.Setenv("LISTEN_FDS", "")
	t.Setenv("LISTEN_PID", "")
	ls, err := activation.Listen("", "127.0.0.1:0")
	require.NoError(t, err)
	require.Len(t, ls, 1)
	defer ls[0].Close()
	c, err := net.Dial("tcp", ls[0].Addr().String())
	require.NoError(t, err)
	c.Close()

	_, err = activation.Listen("", "")
	assert.ErrorIs(t, err, activation.ErrNotActivated)

	_, err = activation.Listen("", "256.0.0.1:1")
	assert.ErrorContains(t, err, "listen on fallback 256.0.0.1:1")
}
