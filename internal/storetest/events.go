package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
)

var eventTests = []subtest{
	{"Create", testCreateEvent},
	{"CreateExists", testCreateEventExists},
	{"NotFound", testEventNotFound},
	{"ListOrderAndPaging", testEventsPaging},
	{"Update", testUpdateEvent},
	{"UpdateStaleVersion", testUpdateEventConflict},
	{"Delete", testDeleteEvent},
	{"ReturnedCopies", testReturnedCopies},
}

func testCreateEvent(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	full := queuepass.Event{
		ID:                 "full",
		Name:               "Tour 2027 ✨",
		State:              queuepass.StateScheduled,
		OpensAt:            at(3600),
		ClosesAt:           at(7200),
		AdmitRatePerMinute: 120,
		MaxActive:          500,
		PassTTL:            15 * time.Minute,
		CreatedAt:          at(5),
		DrawSeed:           seedOf("full"),
		IdleTimeout:        time.Minute,

		ChallengeDifficulty: 18,
		Access:              queuepass.AccessByCode,
		Inventory:           40000,
		// Kept by the store and ignored on write.
		Version:          7,
		Counts:           queuepass.Counts{Waiting: 3, Closed: 1},
		RecentAdmissions: []queuepass.AdmissionBatch{{At: at(1), Count: 2}},
		Abandoned:        4,
		DrawnAt:          at(2),
		Sold:             12,
		Codes:            queuepass.CodeCounts{Codes: 1, Uses: 2, Used: 1},
	}
	minimal := queuepass.Event{ID: "minimal", Name: "m", State: queuepass.StateOpen, PassTTL: passTTL, CreatedAt: at(6)}
	for _, want := range []queuepass.Event{full, minimal} {
		created := f.createEvent(want)
		for _, c := range []struct {
			call string
			ev   queuepass.Event
		}{{"CreateEvent", created}, {"Event", f.event(want.ID)}} {
			call, ev := c.call, c.ev
			if d := settingsDiff(ev, want); d != "" {
				t.Errorf("%s(%q): %s", call, want.ID, d)
			}
			if ev.Version != 1 {
				t.Errorf("%s(%q).Version = %d, want 1", call, want.ID, ev.Version)
			}
			if ev.Counts != (queuepass.Counts{}) {
				t.Errorf("%s(%q).Counts = %+v, want zero", call, want.ID, ev.Counts)
			}
			if len(ev.RecentAdmissions) != 0 {
				t.Errorf("%s(%q).RecentAdmissions = %v, want none", call, want.ID, ev.RecentAdmissions)
			}
			if ev.Abandoned != 0 || !ev.DrawnAt.IsZero() || ev.Sold != 0 || ev.Codes != (queuepass.CodeCounts{}) {
				t.Errorf("%s(%q) Abandoned, DrawnAt, Sold, Codes = %d, %v, %d, %+v; want zero: the store keeps them",
					call, want.ID, ev.Abandoned, ev.DrawnAt, ev.Sold, ev.Codes)
			}
		}
	}
	if ev := f.event("minimal"); !ev.OpensAt.IsZero() || !ev.ClosesAt.IsZero() {
		t.Errorf("Event(minimal) OpensAt, ClosesAt = %v, %v, want zero times", ev.OpensAt, ev.ClosesAt)
	}
}

func testCreateEventExists(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.createEvent(newEvent("e", queuepass.StateOpen))
	f.joinNew("e", "u1", at(1))
	dup := newEvent("e", queuepass.StatePaused)
	dup.Name = "impostor"
	_, err := f.s.CreateEvent(f.ctx(), dup)
	wantErr(t, `CreateEvent("e") again`, err, queuepass.ErrEventExists)
	ev := f.event("e")
	if ev.Name != "Event e" || ev.State != queuepass.StateOpen || ev.Version != 1 {
		t.Errorf("after a failed CreateEvent, Event(e) = name %q, state %s, version %d; want the original", ev.Name, ev.State, ev.Version)
	}
	f.wantCounts("e", queuepass.Counts{Waiting: 1})
	if evs, err := f.s.Events(f.ctx(), "", 10); err != nil || len(evs) != 1 {
		t.Errorf("Events() = %d events, %v; want 1", len(evs), err)
	}
}

func testEventNotFound(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.createEvent(newEvent("e", queuepass.StateOpen))
	for _, id := range []string{"nope", "E", "e ", ""} {
		_, err := f.s.Event(f.ctx(), id)
		wantErr(t, fmt.Sprintf("Event(%q)", id), err, queuepass.ErrEventNotFound)
	}
}

func testEventsPaging(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	evs, err := f.s.Events(f.ctx(), "", 10)
	if err != nil || len(evs) != 0 {
		t.Fatalf("Events on an empty store = %d events, %v; want none, nil", len(evs), err)
	}

	// Creation order is neither ID order nor CreatedAt order: all events
	// share one CreatedAt and the IDs are not sorted.
	order := []string{"e-c", "e-a", "e-e", "e-b", "e-d"}
	for _, id := range order {
		f.createEvent(newEvent(id, queuepass.StateOpen))
	}
	list := func(after string, limit int) []string {
		t.Helper()
		evs, err := f.s.Events(f.ctx(), after, limit)
		if err != nil {
			t.Fatalf("Events(%q, %d) error: %v", after, limit, err)
		}
		out := make([]string, len(evs))
		for i, ev := range evs {
			out[i] = ev.ID
		}
		return out
	}
	tests := []struct {
		after string
		limit int
		want  []string
	}{
		{"", 10, order},
		{"", 5, order},
		{"", 2, order[:2]},
		{"", 1, order[:1]},
		{"e-a", 2, []string{"e-e", "e-b"}},
		{"e-b", 10, []string{"e-d"}},
		{"e-d", 10, nil},
	}
	for _, tt := range tests {
		if got := list(tt.after, tt.limit); !slices.Equal(got, tt.want) {
			t.Errorf("Events(%q, %d) = %q, want %q", tt.after, tt.limit, got, tt.want)
		}
	}

	// Paging to the end visits every event once.
	var all []string
	for after := ""; ; {
		page := list(after, 2)
		if len(page) == 0 {
			break
		}
		if len(page) > 2 {
			t.Fatalf("Events(%q, 2) returned %d events", after, len(page))
		}
		all = append(all, page...)
		after = page[len(page)-1]
		if len(all) > len(order) {
			t.Fatalf("paging with limit 2 returned more than %d events: %q", len(order), all)
		}
	}
	if !slices.Equal(all, order) {
		t.Errorf("paging with limit 2 = %q, want %q", all, order)
	}

	if err := f.s.DeleteEvent(f.ctx(), "e-e"); err != nil {
		t.Fatalf("DeleteEvent(e-e) error: %v", err)
	}
	if got, want := list("", 10), []string{"e-c", "e-a", "e-b", "e-d"}; !slices.Equal(got, want) {
		t.Errorf("after deleting e-e, Events(\"\", 10) = %q, want %q", got, want)
	}
	if got, want := list("e-a", 1), []string{"e-b"}; !slices.Equal(got, want) {
		t.Errorf("after deleting e-e, Events(\"e-a\", 1) = %q, want %q", got, want)
	}
	f.createEvent(newEvent("e-0", queuepass.StateOpen))
	if got, want := list("e-d", 10), []string{"e-0"}; !slices.Equal(got, want) {
		t.Errorf("Events(\"e-d\", 10) = %q, want the newest event last: %q", got, want)
	}
	for _, after := range []string{"e-e", "nope"} {
		_, err := f.s.Events(f.ctx(), after, 10)
		wantErr(t, fmt.Sprintf("Events(%q, 10)", after), err, queuepass.ErrEventNotFound)
	}
}

func testUpdateEvent(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	orig := f.createEvent(newEvent("e", queuepass.StateOpen))
	u1 := f.joinNew("e", "u1", at(1))

	upd := orig
	upd.Name = "renamed"
	upd.State = queuepass.StatePaused
	upd.OpensAt = at(100)
	upd.ClosesAt = at(200)
	upd.AdmitRatePerMinute = 60
	upd.MaxActive = 9
	upd.PassTTL = 5 * time.Minute
	upd.IdleTimeout = 2 * time.Minute
	upd.ChallengeDifficulty = 20
	upd.Access = queuepass.AccessByCode
	upd.Inventory = 7
	upd.StateReason = queuepass.ReasonSoldOut // the store does not judge
	// Never change, and are ignored on write.
	upd.CreatedAt = at(999)
	upd.DrawSeed = seedOf("other")
	upd.Counts = queuepass.Counts{Waiting: 99, Completed: 4}
	upd.RecentAdmissions = []queuepass.AdmissionBatch{{At: at(3), Count: 1}}
	upd.Abandoned = 3
	upd.DrawnAt = at(4)
	upd.Sold = 5
	upd.Codes = queuepass.CodeCounts{Codes: 6, Uses: 6}

	want := upd
	want.CreatedAt = orig.CreatedAt
	want.DrawSeed = orig.DrawSeed

	got := f.update(upd, at(10))
	for _, c := range []struct {
		call string
		ev   queuepass.Event
	}{{"UpdateEvent", got}, {"Event", f.event("e")}} {
		call, ev := c.call, c.ev
		if d := settingsDiff(ev, want); d != "" {
			t.Errorf("%s after update: %s", call, d)
		}
		if ev.Version != 2 {
			t.Errorf("%s after update: Version = %d, want 2", call, ev.Version)
		}
		if ev.Counts != (queuepass.Counts{Waiting: 1}) {
			t.Errorf("%s after update: Counts = %+v, want {Waiting:1}", call, ev.Counts)
		}
		if len(ev.RecentAdmissions) != 0 {
			t.Errorf("%s after update: RecentAdmissions = %v, want none", call, ev.RecentAdmissions)
		}
		if ev.Abandoned != 0 || !ev.DrawnAt.IsZero() || ev.Sold != 0 || ev.Codes != (queuepass.CodeCounts{}) {
			t.Errorf("%s after update: Abandoned, DrawnAt, Sold, Codes = %d, %v, %d, %+v; want zero: the store keeps them",
				call, ev.Abandoned, ev.DrawnAt, ev.Sold, ev.Codes)
		}
	}

	// Clearing optional times, and a settings-only update with no change at
	// all, both count as versions.
	upd = got
	upd.OpensAt, upd.ClosesAt = time.Time{}, time.Time{}
	upd.StateReason, upd.Access, upd.ChallengeDifficulty, upd.Inventory = "", queuepass.AccessPublic, 0, 0
	if got = f.update(upd, at(11)); got.Version != 3 || !got.OpensAt.IsZero() || !got.ClosesAt.IsZero() {
		t.Errorf("UpdateEvent clearing times = version %d, OpensAt %v, ClosesAt %v; want 3, zero, zero", got.Version, got.OpensAt, got.ClosesAt)
	}
	if d := settingsDiff(f.event("e"), upd); d != "" {
		t.Errorf("Event after UpdateEvent clearing settings: %s", d)
	}
	if got = f.update(got, at(12)); got.Version != 4 {
		t.Errorf("UpdateEvent with unchanged settings: Version = %d, want 4", got.Version)
	}

	// The waiting ticket was untouched by the updates.
	f.wantLine("e", []string{u1.ID})
	_, err := f.s.UpdateEvent(f.ctx(), newEvent("nope", queuepass.StateOpen), at(13))
	wantErr(t, "UpdateEvent(nope)", err, queuepass.ErrEventNotFound)
}

func testUpdateEventConflict(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	v1 := f.createEvent(newEvent("e", queuepass.StateOpen))
	v1.Name = "first"
	v2 := f.update(v1, at(1))

	for _, version := range []uint64{0, 1, 3, 100} {
		stale := v2
		stale.Version = version
		stale.Name = fmt.Sprintf("version %d", version)
		stale.State = queuepass.StateClosed
		_, err := f.s.UpdateEvent(f.ctx(), stale, at(2))
		wantErr(t, fmt.Sprintf("UpdateEvent with Version %d when the store has 2", version), err, queuepass.ErrConflict)
	}
	got := f.event("e")
	if got.Version != 2 || got.Name != "first" || got.State != queuepass.StateOpen {
		t.Errorf("after rejected updates, Event = version %d, name %q, state %s; want 2, \"first\", open", got.Version, got.Name, got.State)
	}

	// Of concurrent writers that read the same version, exactly one wins.
	const writers = 10
	var (
		wg                 sync.WaitGroup
		mu                 sync.Mutex
		wins, conflicts    int
		start              = make(chan struct{})
		ctx                = f.ctx()
		unexpected         []error
		winner, winnerName string
	)
	for i := range writers {
		wg.Go(func() {
			ev := got
			ev.Name = fmt.Sprintf("writer %d", i)
			<-start
			res, err := f.s.UpdateEvent(ctx, ev, at(3))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
				winner, winnerName = ev.Name, res.Name
			case errors.Is(err, queuepass.ErrConflict):
				conflicts++
			default:
				unexpected = append(unexpected, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(unexpected) > 0 {
		t.Errorf("concurrent UpdateEvent errors: %v", unexpected)
	}
	if wins != 1 || conflicts != writers-1 {
		t.Errorf("%d concurrent UpdateEvent of version 2: %d succeeded, %d conflicted; want 1 and %d", writers, wins, conflicts, writers-1)
	}
	if final := f.event("e"); final.Version != 3 || final.Name != winner || winnerName != winner {
		t.Errorf("after concurrent updates, Event = version %d, name %q; want 3, %q", final.Version, final.Name, winner)
	}
}

func testDeleteEvent(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.createEvent(newEvent("gone", queuepass.StateOpen))
	f.createEvent(newEvent("kept", queuepass.StateOpen))
	old := f.joinAll("gone", 3, at(1))
	f.admit("gone", 1, at(2))
	kept := f.joinAll("kept", 2, at(1))

	if err := f.s.DeleteEvent(f.ctx(), "gone"); err != nil {
		t.Fatalf("DeleteEvent(gone) error: %v", err)
	}
	_, err := f.s.Event(f.ctx(), "gone")
	wantErr(t, "Event(gone) after delete", err, queuepass.ErrEventNotFound)
	for _, tk := range old {
		_, err := f.s.Ticket(f.ctx(), "gone", tk.ID)
		wantErr(t, "Ticket(gone, …) after delete", err, queuepass.ErrEventNotFound)
	}
	_, _, err = f.s.Join(f.ctx(), "gone", "u1", queuepass.JoinProof{}, at(3))
	wantErr(t, "Join(gone) after delete", err, queuepass.ErrEventNotFound)
	wantErr(t, "DeleteEvent(gone) again", f.s.DeleteEvent(f.ctx(), "gone"), queuepass.ErrEventNotFound)
	wantErr(t, "DeleteEvent(nope)", f.s.DeleteEvent(f.ctx(), "nope"), queuepass.ErrEventNotFound)
	if evs, err := f.s.Events(f.ctx(), "", 10); err != nil || len(evs) != 1 || evs[0].ID != "kept" {
		t.Errorf("Events after delete = %v, %v; want only \"kept\"", evs, err)
	}

	// Other events keep their tickets.
	f.wantLine("kept", ids(kept))

	// An event made again under the same ID starts empty: the old tickets
	// are gone and do not resolve, and the old users join afresh.
	ev := f.createEvent(newEvent("gone", queuepass.StateOpen))
	if ev.Version != 1 || ev.Counts != (queuepass.Counts{}) || len(ev.RecentAdmissions) != 0 {
		t.Errorf("recreated event = version %d, counts %+v, %d batches; want 1, zero, none", ev.Version, ev.Counts, len(ev.RecentAdmissions))
	}
	fresh := f.joinNew("gone", "u2", at(4))
	if fresh.Position != 1 {
		t.Errorf("first join in the recreated event: Position = %d, want 1", fresh.Position)
	}
	for _, tk := range old {
		_, err := f.s.Ticket(f.ctx(), "gone", tk.ID)
		wantErr(t, "Ticket(recreated event, ID of a deleted ticket)", err, queuepass.ErrTicketNotFound)
	}
	f.wantCounts("gone", queuepass.Counts{Waiting: 1})
}

// testReturnedCopies checks that values going in and out of a store do not
// share memory with what it keeps: a caller may change what it passed or
// got back while other goroutines use the store.
func testReturnedCopies(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.open("e", 0)
	f.joinAll("e", 2, at(1))
	f.admit("e", 1, at(2))
	want := []queuepass.AdmissionBatch{{At: at(2), Count: 1}}

	ev := f.event("e")
	if len(ev.RecentAdmissions) != 1 {
		t.Fatalf("RecentAdmissions = %v, want %v", ev.RecentAdmissions, want)
	}
	ev.RecentAdmissions[0].Count = 99
	evs, err := f.s.Events(f.ctx(), "", 1)
	if err != nil || len(evs) != 1 {
		t.Fatalf("Events = %v, %v", evs, err)
	}
	if !batchesEqual(evs[0].RecentAdmissions, want) {
		t.Errorf("after changing a returned Event, Events reports RecentAdmissions %v, want %v", evs[0].RecentAdmissions, want)
	}
	if len(evs[0].RecentAdmissions) == 1 {
		evs[0].RecentAdmissions[0].Count = 98
	}
	if got := f.event("e").RecentAdmissions; !batchesEqual(got, want) {
		t.Errorf("after changing returned Events, Event reports RecentAdmissions %v, want %v", got, want)
	}

	fp := fingerprint("x")
	f.claim("k", fp, 1)
	header := map[string]string{"Location": "/v1/events/e"}
	body := []byte(`{"id":"e"}`)
	if err := f.s.FinishIdempotencyKey(f.ctx(), "k", queuepass.IdempotencyRecord{
		Fingerprint: fp, CreatedAt: at(1), Done: true, Status: 201, Header: header, Body: body,
	}); err != nil {
		t.Fatalf("FinishIdempotencyKey error: %v", err)
	}
	header["Location"] = "/changed"
	body[0] = 'X'
	wantRec := queuepass.IdempotencyRecord{
		Fingerprint: fp, CreatedAt: at(1), Done: true, Status: 201,
		Header: map[string]string{"Location": "/v1/events/e"}, Body: []byte(`{"id":"e"}`),
	}
	rec, _ := f.claim("k", fp, 2)
	if d := recordDiff(rec, wantRec); d != "" {
		t.Errorf("after changing the record passed to FinishIdempotencyKey: %s", d)
	}
	if rec.Header != nil {
		rec.Header["Location"] = "/changed again"
	}
	if len(rec.Body) > 0 {
		rec.Body[0] = 'Y'
	}
	rec, _ = f.claim("k", fp, 3)
	if d := recordDiff(rec, wantRec); d != "" {
		t.Errorf("after changing a returned record: %s", d)
	}
}
