package statusline_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"example.com/app/activation/statusline"
)

func TestRoundTrip(t *testing.T) {
	for _, status := range []string{"", "serving version 1", "serving, with a comma"} {
		s := statusline.WithRequests(status, 13127)
		n, ok := statusline.Requests(s)
		assert.True(t, ok, s)
		assert.EqualValues(t, 13127, n, s)
		assert.Equal(t, status, statusline.WithoutRequests(s))
	}
	_, ok := statusline.Requests("serving version 1")
	assert.False(t, ok, "no count")
	assert.Equal(t, "serving version 1", statusline.WithoutRequests("serving version 1"))
	_, ok = statusline.Requests("12 requestsx")
	assert.False(t, ok)
}

func ExampleWithRequests() {
	s := statusline.WithRequests("serving version 1", 42)
	n, _ := statusline.Requests(s)
	fmt.Println(s)
	fmt.Println(n, statusline.WithoutRequests(s))
	// Output:
	// serving version 1, 42 requests
	// 42 serving version 1
}
