package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/waitroom"
)

func handleJoin(log *slog.Logger, room *waitroom.Room) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := eventID(w, r)
		if !ok {
			return
		}
		o, prob := readObject(w, r)
		if prob != nil {
			writeProblem(w, prob)
			return
		}
		o.allow("user_id")
		userID, _ := o.userID("user_id")
		if err := o.err(); err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		t, created, err := room.Join(r.Context(), id, userID)
		if err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		w.Header().Set("Location", "/v1/events/"+id+"/tickets/"+t.ID)
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		writeJSON(w, status, ticketOut(t))
	})
}

// ticketStep is a room call on one ticket that answers with the ticket:
// Room.Ticket, Room.Complete, Room.Revoke.
type ticketStep func(ctx context.Context, eventID, ticketID string) (waitroom.TicketView, error)

// handleTicket answers a call on one ticket with the ticket as step leaves
// it (get, complete, revoke).
func handleTicket(log *slog.Logger, step ticketStep) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := eventID(w, r)
		if !ok {
			return
		}
		t, err := step(r.Context(), id, r.PathValue("ticket_id"))
		if err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		writeJSON(w, http.StatusOK, ticketOut(t))
	})
}

func handleLeave(log *slog.Logger, room *waitroom.Room) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := eventID(w, r)
		if !ok {
			return
		}
		if err := room.Leave(r.Context(), id, r.PathValue("ticket_id")); err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func handleAdmit(log *slog.Logger, room *waitroom.Room) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := eventID(w, r)
		if !ok {
			return
		}
		o, prob := readObject(w, r)
		if prob != nil {
			writeProblem(w, prob)
			return
		}
		o.allow("count")
		count := 0
		if o.required("count") {
			count, _ = o.int("count", 1, waitroom.MaxAdmitCount)
		}
		if err := o.err(); err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		a, err := room.Admit(r.Context(), id, count)
		if err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		out := admissionJSON{Admitted: len(a.Tickets), Tickets: make([]admittedJSON, len(a.Tickets)), Waiting: a.Waiting}
		for i, t := range a.Tickets {
			out.Tickets[i] = admittedJSON{ID: t.ID, UserID: t.UserID}
		}
		writeJSON(w, http.StatusOK, out)
	})
}

func handleJWKS(room *waitroom.Room) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Write(room.JWKS())
	})
}

func handleVerifyPass(log *slog.Logger, room *waitroom.Room) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, prob := readObject(w, r)
		if prob != nil {
			writeProblem(w, prob)
			return
		}
		o.allow("pass", "event_id")
		var token, event string
		if o.required("pass") {
			if token, _ = o.string("pass"); token == "" {
				o.verr.Add("pass", "must not be empty")
			}
		}
		if o.required("event_id") {
			if event, _ = o.string("event_id"); event != "" && !validEventID(event) {
				o.verr.Add("event_id", "must match ^[a-z0-9][a-z0-9-]{0,62}$")
			}
		}
		if err := o.err(); err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		v, err := room.VerifyPass(r.Context(), token, event)
		if err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, verificationOut(v))
	})
}

func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

func handleReadyz(log *slog.Logger, room *waitroom.Room) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if err := room.Ping(r.Context()); err != nil {
			log.Warn("not ready", "err", err)
			writeProblem(w, problemFor(r.Context(), log, fmt.Errorf("%w: %w", queuepass.ErrUnavailable, err)))
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}
