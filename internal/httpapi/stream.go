package httpapi

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/queuepass/queuepass/internal/waitroom"
)

// Stream timing defaults.
const (
	// defaultHeartbeat is how often an idle stream sends a comment, so
	// that proxies and clients see it is alive.
	defaultHeartbeat = 15 * time.Second

	// streamWriteTimeout replaces the server's WriteTimeout for streams:
	// each write must finish within it (a client that does not read is
	// dropped then), and each write moves it on.
	streamWriteTimeout = 30 * time.Second

	// streamRetry is the reconnection delay advised to clients, in ms.
	streamRetry = "3000"
)

// handleStream pushes a ticket's updates as server-sent events: a retry
// advice, then an "update" event with the ticket (the JSON of GET ticket)
// at once and again whenever its status or position changes (at most one
// a second), a comment every heartbeat, and the end of the stream after a
// final status. An unknown ticket gets a 404 problem before any of it.
//
// The route must be untimed (the request timeout would end streams); the
// stream ends when the client goes away, when the updates end (final
// status, slow reader, store failure) or when draining is closed.
func handleStream(log *slog.Logger, room *waitroom.Room, heartbeat time.Duration, draining <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := eventID(w, r)
		if !ok {
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		updates, err := room.Updates(ctx, id, r.PathValue("ticket_id"))
		if err != nil {
			writeProblem(w, problemFor(ctx, log, err))
			return
		}
		rc := http.NewResponseController(w)
		send := func(b []byte) bool {
			if err := rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil && err != http.ErrNotSupported {
				return false
			}
			if _, err := w.Write(b); err != nil {
				return false
			}
			return rc.Flush() == nil
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("X-Accel-Buffering", "no") // tell nginx not to buffer
		w.WriteHeader(http.StatusOK)
		if !send([]byte("retry: " + streamRetry + "\n\n")) {
			return
		}
		beat := time.NewTicker(heartbeat)
		defer beat.Stop()
		var buf bytes.Buffer
		for {
			select {
			case v, ok := <-updates:
				if !ok {
					return
				}
				data, err := ticketOut(v).MarshalJSON() // as is: it is one line
				if err != nil {
					log.ErrorContext(ctx, "encoding a ticket update", "err", err)
					return
				}
				buf.Reset()
				buf.WriteString("event: update\ndata: ")
				buf.Write(data)
				buf.WriteString("\n\n")
				if !send(buf.Bytes()) {
					return
				}
			case <-beat.C:
				if !send([]byte(": heartbeat\n\n")) {
					return
				}
			case <-draining:
				return
			case <-ctx.Done():
				return
			}
		}
	})
}
