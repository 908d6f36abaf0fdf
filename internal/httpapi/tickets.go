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
		o.allow("user_id", "challenge", "nonce", "access_code")
		userID, _ := o.userID("user_id")
		var offer waitroom.JoinOffer
		if s, ok := o.string("challenge"); ok {
			if s == "" || len(s) > maxChallengeLength {
				o.verr.Add("challenge", "must be a challenge this API returned")
			}
			offer.Challenge = s
		}
		if s, ok := o.string("nonce"); ok {
			if !waitroom.ValidNonce(s) {
				o.verr.Add("nonce", "must be 1 to %d printable ASCII characters", queuepass.MaxNonceLength)
			}
			offer.Nonce = s
		}
		// A pair with one half missing is reported once, on the missing half;
		// a half that is present but bad has already been reported above.
		switch challenge, nonce := o.present("challenge"), o.present("nonce"); {
		case challenge && !nonce:
			o.verr.Add("nonce", "is required with challenge: send both or neither")
		case nonce && !challenge:
			o.verr.Add("challenge", "is required with nonce: send both or neither")
		}
		if s, ok := o.string("access_code"); ok {
			if _, valid := waitroom.NormalizeCode(s); !valid {
				o.verr.Add("access_code", "must be %d to %d characters of A-Z, a-z, 0-9, '-' and '_'", waitroom.MinCodeLength, waitroom.MaxCodeLength)
			}
			offer.AccessCode = s
		}
		if err := o.err(); err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		t, created, err := room.Join(r.Context(), id, userID, offer)
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

// maxChallengeLength bounds the challenge field of a join; the challenges
// the API hands out are 56 characters.
const maxChallengeLength = 128

// handleChallenge hands out a proof-of-work challenge for one join.
func handleChallenge(log *slog.Logger, room *waitroom.Room) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := eventID(w, r)
		if !ok {
			return
		}
		c, err := room.NewChallenge(r.Context(), id)
		if err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		writeJSON(w, http.StatusOK, challengeJSON{Challenge: c.Token, Difficulty: c.Difficulty, ExpiresAt: ts(c.ExpiresAt)})
	})
}

// handleComplete completes an admitted ticket, with an optional body
// {"quantity"} (default 1) that the event's inventory counts.
func handleComplete(log *slog.Logger, room *waitroom.Room) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := eventID(w, r)
		if !ok {
			return
		}
		quantity := 1
		if r.ContentLength != 0 {
			o, prob := readObject(w, r)
			if prob != nil {
				writeProblem(w, prob)
				return
			}
			o.allow("quantity")
			if _, present, null := o.field("quantity"); null {
				o.verr.Add("quantity", "must be an integer between 1 and %d", waitroom.MaxQuantity)
			} else if n, ok := o.int("quantity", 1, waitroom.MaxQuantity); ok && present {
				quantity = n
			}
			if err := o.err(); err != nil {
				writeProblem(w, problemFor(r.Context(), log, err))
				return
			}
		}
		t, err := room.Complete(r.Context(), id, r.PathValue("ticket_id"), quantity)
		if err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		writeJSON(w, http.StatusOK, ticketOut(t))
	})
}

// ticketStep is a room call on one ticket that answers with the ticket:
// Room.Ticket, Room.Revoke.
type ticketStep func(ctx context.Context, eventID, ticketID string) (waitroom.TicketView, error)

// handleTicket answers a call on one ticket with the ticket as step leaves
// it (get, revoke).
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
