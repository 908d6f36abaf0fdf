package queuepass

import (
	"errors"
	"fmt"
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

	// ErrConflict means the event changed since it was read (its Version
	// moved on). Read it again and retry.
	ErrConflict = errors.New("event changed concurrently")

	// ErrUnavailable means the store cannot be reached or is shutting down.
	// The request may be retried later.
	ErrUnavailable = errors.New("store unavailable")
)

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
