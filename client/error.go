package client

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/queuepass/queuepass"
)

// Problem codes the server sends in Error.Code. The list is stable; new
// codes may be added.
const (
	CodeMalformedJSON        = "malformed_json"
	CodeUnauthorized         = "unauthorized"
	CodeForbidden            = "forbidden"
	CodeChallengeFailed      = "challenge_failed"
	CodeChallengeRequired    = "challenge_required"
	CodeEventNotFound        = "event_not_found"
	CodeTicketNotFound       = "ticket_not_found"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeEventExists          = "event_exists"
	CodeEventClosed          = "event_closed"
	CodeEventNotOpen         = "event_not_open"
	CodeInvalidTransition    = "invalid_transition"
	CodeTicketNotWaiting     = "ticket_not_waiting"
	CodeTicketNotAdmitted    = "ticket_not_admitted"
	CodePayloadTooLarge      = "payload_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeInvalidRequest       = "invalid_request"
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	CodeRateLimited          = "rate_limited"
	CodeInternal             = "internal"
	CodeUnavailable          = "unavailable"
)

// Error is a response from the server with a status other than 2xx,
// usually an RFC 9457 problem. Every method returns it as a *Error, so
// callers check it with errors.As; errors.Is also matches the queuepass
// sentinel errors that a code stands for (for example
// queuepass.ErrEventNotFound for event_not_found).
type Error struct {
	Status int    // HTTP status code
	Code   string // stable machine-readable code (a Code constant); "" if the body was not a problem
	Type   string // problem type URI, e.g. urn:queuepass:problem:event_not_found
	Title  string
	Detail string

	// Fields names every bad input field of a 422 invalid_request.
	Fields []queuepass.FieldError

	// RetryAfter is how long the server asked to wait before retrying
	// (Retry-After on 429 and 503); 0 if it did not say.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "queuepass: %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	switch {
	case e.Detail != "":
		b.WriteString(": " + e.Detail)
	case e.Title != "":
		b.WriteString(": " + e.Title)
	}
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	return b.String()
}

// Is reports whether target is the queuepass sentinel error that e's code
// stands for.
func (e *Error) Is(target error) bool {
	s := sentinel(e.Code)
	return s != nil && s == target
}

// sentinel returns the root package's error for a problem code, or nil.
func sentinel(code string) error {
	switch code {
	case CodeEventNotFound:
		return queuepass.ErrEventNotFound
	case CodeEventExists:
		return queuepass.ErrEventExists
	case CodeEventClosed:
		return queuepass.ErrEventClosed
	case CodeEventNotOpen:
		return queuepass.ErrEventNotOpen
	case CodeInvalidTransition:
		return queuepass.ErrInvalidTransition
	case CodeTicketNotFound:
		return queuepass.ErrTicketNotFound
	case CodeTicketNotWaiting:
		return queuepass.ErrTicketNotWaiting
	case CodeTicketNotAdmitted:
		return queuepass.ErrTicketNotAdmitted
	case CodeUnavailable:
		return queuepass.ErrUnavailable
	case CodeChallengeRequired:
		return queuepass.ErrChallengeRequired
	case CodeChallengeFailed:
		return queuepass.ErrChallengeFailed
	}
	return nil
}

// Temporary reports whether the same request may succeed later without
// change: 429, 502, 503 and 504.
func (e *Error) Temporary() bool {
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date
// (relative to now). It returns 0 when the header is absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
