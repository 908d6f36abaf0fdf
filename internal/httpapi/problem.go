package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/queuepass/queuepass"
)

// problem is an RFC 9457 problem detail with QueuePass' stable code.
type problem struct {
	Type   string                 `json:"type"`
	Title  string                 `json:"title"`
	Status int                    `json:"status"`
	Detail string                 `json:"detail"`
	Code   string                 `json:"code"`
	Errors []queuepass.FieldError `json:"errors,omitempty"`

	header http.Header // extra response headers, e.g. Retry-After
}

func newProblem(status int, code, detail string) *problem {
	return &problem{
		Type:   "urn:queuepass:problem:" + code,
		Title:  problemTitle(code, status),
		Status: status,
		Detail: detail,
		Code:   code,
	}
}

// problemTitle is the short summary of a problem type: one per code, as
// RFC 9457 wants (the detail says what happened this time).
func problemTitle(code string, status int) string {
	switch code {
	case "malformed_json":
		return "Malformed JSON"
	case "unauthorized":
		return "Unauthorized"
	case "forbidden":
		return "Forbidden"
	case "challenge_failed":
		return "Challenge failed"
	case "challenge_required":
		return "Challenge required"

	case "event_not_found":
		return "Event not found"
	case "ticket_not_found":
		return "Ticket not found"
	case "not_found":
		return "Not found"
	case "method_not_allowed":
		return "Method not allowed"
	case "event_exists":
		return "Event already exists"
	case "event_closed":
		return "Event is closed"
	case "event_not_open":
		return "Event is not open"
	case "invalid_transition":
		return "Invalid state transition"
	case "ticket_not_waiting":
		return "Ticket is not waiting"
	case "ticket_not_admitted":
		return "Ticket is not admitted"
	case "payload_too_large":
		return "Payload too large"
	case "unsupported_media_type":
		return "Unsupported media type"
	case "invalid_request":
		return "Invalid request"
	case "idempotency_key_reused":
		return "Idempotency key reused"
	case "rate_limited":
		return "Too many requests"
	case "internal":
		return "Internal server error"
	case "unavailable":
		return "Service unavailable"
	}
	return http.StatusText(status)
}

func (p *problem) with(key, value string) *problem {
	if p.header == nil {
		p.header = http.Header{}
	}
	p.header.Set(key, value)
	return p
}

func writeProblem(w http.ResponseWriter, p *problem) {
	h := w.Header()
	for k, v := range p.header {
		h[k] = v
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

// retryAfterSeconds is the advice sent with every 503.
const retryAfterSeconds = 1

// problemFor maps an error to the problem a client sees. Errors of unknown
// kind become a 500 whose detail says nothing of the cause; the cause is
// logged instead.
func problemFor(ctx context.Context, log *slog.Logger, err error) *problem {
	if verr, ok := errors.AsType[*queuepass.ValidationError](err); ok {
		p := newProblem(http.StatusUnprocessableEntity, "invalid_request", verr.Error())
		p.Errors = verr.Fields
		return p
	}
	if p := knownProblem(err); p != nil {
		return p
	}
	if rl, ok := errors.AsType[*queuepass.RateLimitError](err); ok {
		secs := max(1, int((rl.RetryAfter+time.Second-1)/time.Second))
		return newProblem(http.StatusTooManyRequests, "rate_limited",
			fmt.Sprintf("Too many requests of this kind from your address; retry in %d s.", secs)).
			with("Retry-After", strconv.Itoa(secs))
	}
	if errors.Is(err, queuepass.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		log.LogAttrs(ctx, slog.LevelWarn, "store unavailable", slog.Any("err", err))
		return newProblem(http.StatusServiceUnavailable, "unavailable", "The service cannot serve this request right now; retry shortly.").
			with("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	log.LogAttrs(ctx, slog.LevelError, "internal error", slog.Any("err", err))
	return newProblem(http.StatusInternalServerError, "internal", "An internal error occurred; it has been logged.")
}

// challengeFailure says why a challenge failed: the waiting room's reason,
// or else (the store found it spent) that it was used before.
func challengeFailure(err error) string {
	if ce, ok := errors.AsType[*queuepass.ChallengeError](err); ok {
		return "The challenge failed: " + ce.Reason + "."
	}
	return "The challenge was used before; every new ticket needs a challenge of its own."
}

// knownProblem maps each domain error to its status, code and message. The
// messages are fixed so that nothing internal reaches a client.
func knownProblem(err error) *problem {
	switch {
	case errors.Is(err, queuepass.ErrEventNotFound):
		return newProblem(http.StatusNotFound, "event_not_found", "No event has this ID.")
	case errors.Is(err, queuepass.ErrTicketNotFound):
		return newProblem(http.StatusNotFound, "ticket_not_found", "No ticket of this event has this ID.")
	case errors.Is(err, queuepass.ErrEventExists):
		return newProblem(http.StatusConflict, "event_exists", "An event with this ID already exists.")
	case errors.Is(err, queuepass.ErrEventClosed):
		return newProblem(http.StatusConflict, "event_closed", "The event is closed; it takes no more joins.")
	case errors.Is(err, queuepass.ErrEventNotOpen):
		return newProblem(http.StatusConflict, "event_not_open", "The event is not open, so nobody can be admitted now.")
	case errors.Is(err, queuepass.ErrInvalidTransition):
		return newProblem(http.StatusConflict, "invalid_transition", "The event cannot make this change: states go scheduled → open, open ⇄ paused, any but closed → closed, and a closed event is final (its settings cannot change either).")
	case errors.Is(err, queuepass.ErrTicketNotWaiting):
		return newProblem(http.StatusConflict, "ticket_not_waiting", "The ticket is no longer waiting in the line.")
	case errors.Is(err, queuepass.ErrTicketNotAdmitted):
		return newProblem(http.StatusConflict, "ticket_not_admitted", "The ticket is not admitted with a valid pass.")
	case errors.Is(err, queuepass.ErrChallengeRequired):
		return newProblem(http.StatusPreconditionRequired, "challenge_required",
			"This event asks new tickets for proof of work: get a challenge (POST /v1/events/{event_id}/challenges), solve it, and join with challenge and nonce.")
	case errors.Is(err, queuepass.ErrChallengeFailed):
		return newProblem(http.StatusForbidden, "challenge_failed", challengeFailure(err))
	case errors.Is(err, queuepass.ErrAccessDenied):
		return newProblem(http.StatusForbidden, "forbidden", "This event takes joins with an access code only, and this request has none with a use left.")
	case errors.Is(err, queuepass.ErrCodeNotFound):
		return newProblem(http.StatusNotFound, "not_found", "The event has no such access code.")
	case errors.Is(err, queuepass.ErrCodeExists):
		p := newProblem(http.StatusUnprocessableEntity, "invalid_request", "A code of this request exists already for this event; nothing was added.")
		p.Errors = []queuepass.FieldError{{Field: "codes", Message: "lists a code the event has already"}}
		return p
	case errors.Is(err, queuepass.ErrDrawPending):
		return newProblem(http.StatusConflict, "event_not_open", "The event has not opened yet: its pre-queue is drawn at opening, and the seed stays secret until then. Its commitment is on the event.")
	case errors.Is(err, queuepass.ErrNoDraw):
		return newProblem(http.StatusNotFound, "not_found", "This event has no draw: it had no pre-queue (it was created open, or closed before it opened).")
	}
	return nil
}
