package worker_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/worker"
)

func TestHandlerRoutes(t *testing.T) {
	draining := false
	h := worker.Handler(worker.Identity{Instance: "1", Version: "2.0.0", PID: 42}, func() bool { return draining }, 0)

	for _, tc := range []struct {
		path     string
		draining bool
		code     int
		body     string
	}{
		{"/", false, 200, "instance=1 version=2.0.0 pid=42\n"},
		{"/healthz", false, 200, "ok\n"},
		{"/healthz", true, 503, "draining\n"},
		{"/slow?ms=5", false, 200, "instance=1 version=2.0.0 pid=42 slept=5ms\n"},
		{"/slow?ms=30001", false, 400, "ms must be an integer from 0 to 30000\n"},
		{"/slow?ms=-1", false, 400, "ms must be an integer from 0 to 30000\n"},
		{"/slow?ms=abc", false, 400, "ms must be an integer from 0 to 30000\n"},
		// Would wrap negative if multiplied before the bound, and answer at once.
		{"/slow?ms=9223372036855", false, 400, "ms must be an integer from 0 to 30000\n"},
		{"/slow?ms=99999999999999999999", false, 400, "ms must be an integer from 0 to 30000\n"},
		{"/nope", false, 404, "404 page not found\n"},
	} {
		draining = tc.draining
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		assert.Equal(t, tc.code, rec.Code, tc.path)
		assert.Equal(t, tc.body, rec.Body.String(), tc.path)
		assert.Equal(t, "1", rec.Header().Get("X-Instance"), "every response carries X-Instance: %s", tc.path)
		assert.Equal(t, "2.0.0", rec.Header().Get("X-Version"), "every response carries X-Version: %s", tc.path)
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("x")))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

// TestLimits runs the worker's own server on a real socket: a body or
// headers over the limits are refused with their status, and the server
// keeps serving.
func TestLimits(t *testing.T) {
	h := worker.Handler(worker.Identity{Instance: "1", Version: "2.0.0", PID: 42}, func() bool { return false }, 0)
	ts := httptest.NewUnstartedServer(h)
	ts.Config = worker.NewHTTPServer(h)
	ts.Start()
	defer ts.Close()

	post := func(n int) (int, string) {
		resp, err := http.Post(ts.URL+"/upload", "application/octet-stream", strings.NewReader(strings.Repeat("x", n)))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, body := post(1000)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "instance=1 version=2.0.0 pid=42 received=1000\n", body)
	code, body = post(worker.MaxBody + 1)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
	assert.Equal(t, fmt.Sprintf("request body over %d bytes\n", worker.MaxBody), body)

	req, err := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
	require.NoError(t, err)
	req.Header.Set("Cookie", strings.Repeat("c", 2*worker.MaxHeaderBytes))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)

	resp, err = http.Get(ts.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "still serving")
}
