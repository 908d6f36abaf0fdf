package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/waitroom"
)

// eventFields returns the names of the settings an admin may write, plus
// extra.
func eventFields(extra string) []string {
	return []string{extra, "name", "opens_at", "closes_at", "admit_rate_per_minute", "max_active", "pass_ttl_seconds", "idle_timeout_seconds",
		"challenge_difficulty", "access", "inventory"}
}

// eventSettings reads the settings common to create and patch into p.
func (o *object) eventSettings(p *waitroom.EventPatch) {
	if _, present, null := o.field("name"); present {
		if null {
			o.verr.Add("name", "must be a string of 1 to 200 characters")
		} else if name, ok := o.eventName("name"); ok {
			p.Name = &name
		}
	}
	if t, present := o.time("opens_at"); present {
		p.OpensAt = &t
	}
	if t, present := o.time("closes_at"); present {
		p.ClosesAt = &t
	}
	for _, f := range []struct {
		name   string
		lo, hi int
		dst    **int
	}{
		{"admit_rate_per_minute", 0, waitroom.MaxAdmitRate, &p.AdmitRatePerMinute},
		{"max_active", 0, waitroom.MaxMaxActive, &p.MaxActive},
	} {
		if _, present, null := o.field(f.name); null {
			o.verr.Add(f.name, "must be an integer between %d and %d", f.lo, f.hi)
		} else if n, ok := o.int(f.name, f.lo, f.hi); ok && present {
			*f.dst = &n
		}
	}
	if _, present, null := o.field("pass_ttl_seconds"); null {
		o.verr.Add("pass_ttl_seconds", "must be an integer between 30 and 86400")
	} else if n, ok := o.int("pass_ttl_seconds", int(waitroom.MinPassTTL/time.Second), int(waitroom.MaxPassTTL/time.Second)); ok && present {
		d := time.Duration(n) * time.Second
		p.PassTTL = &d
	}
	if _, present, null := o.field("challenge_difficulty"); null {
		o.verr.Add("challenge_difficulty", "must be an integer between 0 and %d", queuepass.MaxChallengeDifficulty)
	} else if n, ok := o.int("challenge_difficulty", 0, queuepass.MaxChallengeDifficulty); ok && present {
		p.ChallengeDifficulty = &n
	}
	if raw, present, _ := o.field("access"); present {
		var a queuepass.Access
		if json.Unmarshal(raw, &a) == nil && a != "" && a.Valid() {
			p.Access = &a
		} else {
			o.verr.Add("access", "must be public or code")
		}
	}
	// inventory: null clears it (no inventory tracked).
	if _, present, null := o.field("inventory"); null {
		zero := 0
		p.Inventory = &zero
	} else if n, ok := o.int("inventory", 1, waitroom.MaxInventory); ok && present {
		p.Inventory = &n
	}
	if _, present, null := o.field("idle_timeout_seconds"); null {
		o.verr.Add("idle_timeout_seconds", "must be an integer between 0 and %d", int(waitroom.MaxIdleTimeout/time.Second))
	} else if n, ok := o.int("idle_timeout_seconds", 0, int(waitroom.MaxIdleTimeout/time.Second)); ok && present {
		d := time.Duration(n) * time.Second
		p.IdleTimeout = &d
	}
}

func handleCreateEvent(log *slog.Logger, room *waitroom.Room) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, prob := readObject(w, r)
		if prob != nil {
			writeProblem(w, prob)
			return
		}
		o.allow(eventFields("id")...)
		var spec waitroom.EventSpec
		if id, ok := o.string("id"); ok {
			if validEventID(id) {
				spec.ID = id
			} else {
				o.verr.Add("id", "must match ^[a-z0-9][a-z0-9-]{0,62}$")
			}
		}
		if _, present, _ := o.field("name"); !present {
			o.verr.Add("name", "is required")
		}
		var p waitroom.EventPatch
		o.eventSettings(&p)
		spec.Name = deref(p.Name)
		spec.OpensAt = deref(p.OpensAt)
		spec.ClosesAt = deref(p.ClosesAt)
		spec.AdmitRatePerMinute = deref(p.AdmitRatePerMinute)
		spec.MaxActive = deref(p.MaxActive)
		spec.PassTTL = deref(p.PassTTL)
		spec.IdleTimeout = deref(p.IdleTimeout)
		spec.ChallengeDifficulty = deref(p.ChallengeDifficulty)
		spec.Access = deref(p.Access)
		spec.Inventory = deref(p.Inventory)
		if err := o.err(); err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		ev, err := room.CreateEvent(r.Context(), spec)
		if err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		w.Header().Set("Location", "/v1/events/"+ev.ID)
		writeJSON(w, http.StatusCreated, eventOut(ev))
	})
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func handleListEvents(log *slog.Logger, room *waitroom.Room) http.Handler {
	type page struct {
		Events     []eventJSON `json:"events"`
		NextCursor *string     `json:"next_cursor"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, cursor, err := pageParams(r, func(c string) (string, bool) { return c, validEventID(c) })
		if err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		events, next, err := room.Events(r.Context(), cursor, limit)
		if err != nil {
			if cursor != "" && errors.Is(err, queuepass.ErrEventNotFound) {
				var verr queuepass.ValidationError
				verr.Add("cursor", "names an event that no longer exists; start again without a cursor")
				err = &verr
			}
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		out := page{Events: make([]eventJSON, len(events))}
		for i, ev := range events {
			out.Events[i] = eventOut(ev)
		}
		if next != "" {
			out.NextCursor = &next
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// pageParams reads the query of a listing: limit (1..200, default 50) and
// cursor, which must be what cursor (a normalizer) accepts.
func pageParams(r *http.Request, cursor func(string) (string, bool)) (limit int, after string, err error) {
	q := r.URL.Query()
	var verr queuepass.ValidationError
	limit = 50
	if s := q.Get("limit"); q.Has("limit") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			verr.Add("limit", "must be an integer between 1 and 200")
		}
		limit = n
	}
	if c := q.Get("cursor"); c != "" {
		var ok bool
		if after, ok = cursor(c); !ok {
			verr.Add("cursor", "is not a cursor this API returned")
		}
	}
	return limit, after, verr.Err()
}

// eventID returns the event_id path value, or answers 404 when it cannot
// name an event.
func eventID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("event_id")
	if !validEventID(id) {
		writeProblem(w, knownProblem(queuepass.ErrEventNotFound))
		return "", false
	}
	return id, true
}

func handleGetEvent(log *slog.Logger, room *waitroom.Room) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := eventID(w, r)
		if !ok {
			return
		}
		ev, err := room.Event(r.Context(), id)
		if err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		writeJSON(w, http.StatusOK, eventOut(ev))
	})
}

func handleUpdateEvent(log *slog.Logger, room *waitroom.Room) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := eventID(w, r)
		if !ok {
			return
		}
		o, prob := readObject(w, r, "application/merge-patch+json", "application/json")
		if prob != nil {
			writeProblem(w, prob)
			return
		}
		o.allow(eventFields("state")...)
		var p waitroom.EventPatch
		o.eventSettings(&p)
		if raw, present, _ := o.field("state"); present {
			var st queuepass.EventState
			if json.Unmarshal(raw, &st) == nil && st.Valid() {
				p.State = &st
			} else {
				o.verr.Add("state", "must be one of scheduled, open, paused, closed")
			}
		}
		if err := o.err(); err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		ev, err := room.UpdateEvent(r.Context(), id, p)
		if err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		writeJSON(w, http.StatusOK, eventOut(ev))
	})
}

func handleDeleteEvent(log *slog.Logger, room *waitroom.Room) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := eventID(w, r)
		if !ok {
			return
		}
		if err := room.DeleteEvent(r.Context(), id); err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func handleStats(log *slog.Logger, room *waitroom.Room) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := eventID(w, r)
		if !ok {
			return
		}
		s, err := room.Stats(r.Context(), id)
		if err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		writeJSON(w, http.StatusOK, statsOut(s))
	})
}
