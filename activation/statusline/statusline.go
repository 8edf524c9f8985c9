// Package statusline is the one contract between a worker's STATUS= text
// (sd_notify) and the views that read it: the worker appends its request
// count ("serving version 1, 13127 requests") and `app-reloader top`
// turns the count into requests per second. Any worker, in any language,
// can write the same; the package is pure Go, for any OS.
package statusline

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// WithRequests is status with the request count n appended: "status, n
// requests", or "n requests" alone.
func WithRequests(status string, n int64) string {
	if status == "" {
		return fmt.Sprintf("%d requests", n)
	}
	return fmt.Sprintf("%s, %d requests", status, n)
}

var requestsRE = regexp.MustCompile(`(?:^|, )([0-9]+) requests$`)

// Requests reads the request count out of a status written by
// [WithRequests]; ok is false when there is none.
func Requests(status string) (n int64, ok bool) {
	m := requestsRE.FindStringSubmatch(status)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	return n, err == nil
}

// WithoutRequests is status without the count [WithRequests] appended.
func WithoutRequests(status string) string {
	loc := requestsRE.FindStringIndex(status)
	if loc == nil {
		return status
	}
	return strings.TrimSuffix(status[:loc[0]], ", ")
}
