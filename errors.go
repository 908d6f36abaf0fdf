package queuepass

import (
	"errors"
	"fmt"
	"time"
)

// Errors that stores and the waiting room return, wrapped with %w where
// there is more to say. Check them with errors.Is. The HTTP layer maps each
// to one status and problem code.
var (
	ErrEventNotFound     = errors.New("event not found")
	ErrEventExists       = errors.New("event already exists")
	ErrEventClosed       = errors.New("event is closed")
	ErrEventNotOpen      = errors.New("event is not open")
	ErrInvalidTransition = errors.New("invalid state transition")
	ErrTicketNotFound    = errors.New("ticket not found")
	ErrTicketNotWaiting  = errors.New("ticket is not waiting")
	ErrTicketNotAdmitted = errors.New("ticket is not admitted")

	// ErrChallengeRequired means a join would make a ticket in an event
	// with a ChallengeDifficulty but offered no challenge; ErrChallengeFailed
	// that the challenge offered was spent before, or is not valid (wrong,
	// expired, unsolved, for another event).
	ErrChallengeRequired = errors.New("a solved challenge is required")
	ErrChallengeFailed   = errors.New("challenge failed")

	// ErrAccessDenied means a join would make a ticket in an event whose
	// Access is AccessByCode without an access code that has a use left.
	ErrAccessDenied = errors.New("access denied")

	// ErrCodeExists means an access code being added exists already;
	// ErrCodeNotFound that an access code being changed does not exist.
	ErrCodeExists   = errors.New("access code already exists")
	ErrCodeNotFound = errors.New("access code not found")

	// ErrDrawPending means an event's draw is asked for before it is made:
	// the event is still scheduled. ErrNoDraw that it will never be made:
	// the event was never scheduled, or closed before it opened.
	ErrDrawPending = errors.New("the draw is made when the event opens")
	ErrNoDraw      = errors.New("the event has no draw")

	// ErrConflict means the event changed since it was read (its Version
	// moved on). Read it again and retry.
	ErrConflict = errors.New("event changed concurrently")

	// ErrUnavailable means the store cannot be reached or is shutting down.
	// The request may be retried later.
	ErrUnavailable = errors.New("store unavailable")
)

// ChallengeError is a challenge that failed for a reason its sender may
// read (wrong, expired, unsolved, of another event). It matches
// ErrChallengeFailed.
type ChallengeError struct {
	Reason string
}

func (e *ChallengeError) Error() string { return "challenge failed: " + e.Reason }

// Unwrap makes errors.Is(err, ErrChallengeFailed) hold.
func (e *ChallengeError) Unwrap() error { return ErrChallengeFailed }

// RateLimitError means a client made more calls of one kind than its
// limit allows; it may try again after RetryAfter.
type RateLimitError struct {
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("rate limited: retry after %v", e.RetryAfter)
}

// ValidationError lists every problem found in one piece of input.
type ValidationError struct {
	Fields []FieldError
}

// FieldError is one problem with one input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *ValidationError) Error() string {
	if len(e.Fields) == 1 {
		return fmt.Sprintf("invalid %s: %s", e.Fields[0].Field, e.Fields[0].Message)
	}
	return fmt.Sprintf("%d invalid fields", len(e.Fields))
}

// Add records a problem with field.
func (e *ValidationError) Add(field, format string, args ...any) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns e if it holds any problem, else nil.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}
