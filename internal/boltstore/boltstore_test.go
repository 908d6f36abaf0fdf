package boltstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) queuepass.Store {
		return openTemp(t, t.TempDir())
	})
}

// openTemp opens a store in dir and closes it when the test ends.
func openTemp(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(%q) error: %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func at(sec int) time.Time {
	return time.Date(2026, time.December, 3, 18, 0, sec, 0, time.UTC)
}

func newEvent(id string, state queuepass.EventState) queuepass.Event {
	return queuepass.Event{
		ID:        id,
		Name:      "Event " + id,
		State:     state,
		PassTTL:   time.Minute,
		CreatedAt: at(0),
		DrawSeed:  [32]byte{1, 2, 3},
	}
}

// fixture wraps a store with helpers that fail the test on an error.
type fixture struct {
	t *testing.T
	s *Store
}

func (f *fixture) ok(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) createEvent(id string, state queuepass.EventState) {
	f.t.Helper()
	_, err := f.s.CreateEvent(f.t.Context(), newEvent(id, state))
	f.ok(err)
}

func (f *fixture) event(id string) queuepass.Event {
	f.t.Helper()
	ev, err := f.s.Event(f.t.Context(), id)
	f.ok(err)
	return ev
}

func (f *fixture) setState(id string, state queuepass.EventState, at time.Time) {
	f.t.Helper()
	ev := f.event(id)
	ev.State = state
	_, err := f.s.UpdateEvent(f.t.Context(), ev, at)
	f.ok(err)
}

func (f *fixture) join(eventID, userID string, at time.Time) (queuepass.Ticket, bool) {
	f.t.Helper()
	tk, created, err := f.s.Join(f.t.Context(), eventID, userID, queuepass.JoinProof{}, at)
	f.ok(err)
	return tk, created
}

func (f *fixture) ticket(eventID, ticketID string) queuepass.Ticket {
	f.t.Helper()
	tk, err := f.s.Ticket(f.t.Context(), eventID, ticketID)
	f.ok(err)
	return tk
}

func (f *fixture) admit(eventID string, count int, at time.Time) queuepass.Admission {
	f.t.Helper()
	adm, err := f.s.Admit(f.t.Context(), eventID, count, at)
	f.ok(err)
	return adm
}

func (f *fixture) eventIDs() string {
	f.t.Helper()
	evs, err := f.s.Events(f.t.Context(), "", 1000)
	f.ok(err)
	var ids []string
	for _, ev := range evs {
		ids = append(ids, ev.ID)
	}
	return strings.Join(ids, ",")
}

// snapshot is everything a store says about its events and some tickets.
type snapshot struct {
	events  []queuepass.Event
	tickets map[string]queuepass.Ticket // by event ID + "/" + ticket ID
}

func (f *fixture) snapshot(ticketIDs map[string][]string) snapshot {
	f.t.Helper()
	evs, err := f.s.Events(f.t.Context(), "", 1000)
	f.ok(err)
	snap := snapshot{events: evs, tickets: map[string]queuepass.Ticket{}}
	for ev, ids := range ticketIDs {
		for _, id := range ids {
			snap.tickets[ev+"/"+id] = f.ticket(ev, id)
		}
	}
	return snap
}

// diff describes how b differs from a, or returns "". Times are in UTC on
// both sides, so printing compares them exactly.
func (a snapshot) diff(b snapshot) string {
	var d []string
	if fmt.Sprint(a.events) != fmt.Sprint(b.events) {
		d = append(d, fmt.Sprintf("events\n  before %+v\n  after  %+v", a.events, b.events))
	}
	for k, ta := range a.tickets {
		if tb := b.tickets[k]; fmt.Sprint(ta) != fmt.Sprint(tb) {
			d = append(d, fmt.Sprintf("ticket %s\n  before %+v\n  after  %+v", k, ta, tb))
		}
	}
	return strings.Join(d, "\n")
}

// TestReopen checks that closing and opening the data directory keeps every
// event, ticket, count, position and order, lazily closed lines included,
// and that the reopened store goes on numbering and ordering where it
// stopped.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	f := &fixture{t: t, s: openTemp(t, dir)}
	ids := map[string][]string{}
	join := func(ev, user string, at time.Time) queuepass.Ticket {
		t.Helper()
		tk, _ := f.join(ev, user, at)
		ids[ev] = append(ids[ev], tk.ID)
		return tk
	}

	// "line": open, with admissions, a leaver, a completion and an expiry.
	f.createEvent("line", queuepass.StateOpen)
	for i := range 20 {
		join("line", fmt.Sprintf("u%d", i), at(i))
	}
	_, err := f.s.Leave(ctx, "line", ids["line"][5], at(30))
	f.ok(err)
	adm := f.admit("line", 3, at(31))
	_, err = f.s.Complete(ctx, "line", adm.Tickets[0].ID, 1, at(32))
	f.ok(err)
	f.admit("line", 2, at(100))

	// "drawn": scheduled, then opened (the pre-queue drawn into the line).
	f.createEvent("drawn", queuepass.StateScheduled)
	for i := range 10 {
		join("drawn", fmt.Sprintf("p%d", i), at(i))
	}
	f.setState("drawn", queuepass.StateOpen, at(20))
	join("drawn", "late", at(21))

	// "shut": closed with a line (closed lazily) and one ticket admitted.
	f.createEvent("shut", queuepass.StateOpen)
	for i := range 5 {
		join("shut", fmt.Sprintf("s%d", i), at(i))
	}
	f.admit("shut", 1, at(10))
	f.setState("shut", queuepass.StateClosed, at(11))

	// "gone": deleted, so it must stay gone.
	f.createEvent("gone", queuepass.StateOpen)
	f.join("gone", "x", at(1))
	f.ok(f.s.DeleteEvent(ctx, "gone"))
	f.createEvent("last", queuepass.StatePaused)

	_, claimed, err := f.s.ClaimIdempotencyKey(ctx, "k1", [32]byte{9}, at(5))
	f.ok(err)
	if !claimed {
		t.Fatal("ClaimIdempotencyKey(k1) claimed = false, want true")
	}
	resp := queuepass.IdempotencyRecord{Status: 201, Header: map[string]string{"Location": "/x"}, Body: []byte("{}")}
	f.ok(f.s.FinishIdempotencyKey(ctx, "k1", resp))

	before := f.snapshot(ids)
	if err := f.s.Close(); err != nil {
		t.Fatalf("Close() error: %v", err)
	}
	f.s = openTemp(t, dir)
	if d := before.diff(f.snapshot(ids)); d != "" {
		t.Errorf("after reopening:\n%s", d)
	}

	rec, claimed, err := f.s.ClaimIdempotencyKey(ctx, "k1", [32]byte{7}, at(50))
	f.ok(err)
	if claimed || !rec.Done || rec.Status != 201 || rec.Fingerprint != [32]byte{9} || !rec.CreatedAt.Equal(at(5)) {
		t.Errorf("ClaimIdempotencyKey(k1) after reopen = %+v, %v; want the finished record of the first claim", rec, claimed)
	}

	// Numbering, the user index and order go on where they stopped.
	waiting := f.event("line").Counts.Waiting
	tk := join("line", "newcomer", at(200))
	if tk.Position != waiting+1 {
		t.Errorf("Join after reopen: Position = %d, want %d", tk.Position, waiting+1)
	}
	for _, prev := range ids["line"][:len(ids["line"])-1] {
		if prev == tk.ID {
			t.Errorf("Join after reopen reused ticket ID %s", tk.ID)
		}
	}
	if again, created := f.join("line", "u19", at(201)); created || again.ID != ids["line"][19] {
		t.Errorf("Join(u19) after reopen = %s, created %v; want the live ticket %s", again.ID, created, ids["line"][19])
	}
	if _, _, err := f.s.Join(ctx, "shut", "s4", queuepass.JoinProof{}, at(202)); !errors.Is(err, queuepass.ErrEventClosed) {
		t.Errorf("Join(closed event) after reopen error = %v, want ErrEventClosed", err)
	}
	f.createEvent("newer", queuepass.StateOpen)
	if got, want := f.eventIDs(), "line,drawn,shut,last,newer"; got != want {
		t.Errorf("Events after reopen = %s, want %s", got, want)
	}
	adm = f.admit("line", 100, at(300))
	if adm.Waiting != 0 || len(adm.Tickets) != waiting+1 || adm.Tickets[len(adm.Tickets)-1].ID != tk.ID {
		t.Errorf("Admit(all) after reopen = %d tickets, %d waiting; want %d, 0, newcomer last", len(adm.Tickets), adm.Waiting, waiting+1)
	}
}

func TestOpenInUse(t *testing.T) {
	dir := t.TempDir()
	openTemp(t, dir)
	s, err := Open(dir)
	if err == nil {
		s.Close()
		t.Fatalf("second Open(%q) succeeded, want an error", dir)
	}
	if !strings.Contains(err.Error(), "in use by another queuepass process") {
		t.Errorf("second Open(%q) error = %q, want it to say the directory is in use", dir, err)
	}
}

func TestOpenCreatesPrivateDirectory(t *testing.T) {
	dir := t.TempDir() + "/a/b"
	openTemp(t, dir)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory mode = %o, want 700", perm)
	}
}

// TestCloseAgain checks that closing after a reopening (which the waiting
// room would not ask for) closes the new line too, with the new closing's
// reason, while the first closing's tickets keep their EndedAt and reason,
// before and after a reopen of the file.
func TestCloseAgain(t *testing.T) {
	dir := t.TempDir()
	f := &fixture{t: t, s: openTemp(t, dir)}
	f.createEvent("e", queuepass.StateOpen)
	first, _ := f.join("e", "a", at(1))
	f.setState("e", queuepass.StateClosed, at(2))
	f.setState("e", queuepass.StateOpen, at(3))
	second, _ := f.join("e", "a", at(4))
	if second.Status != queuepass.StatusWaiting || second.Position != 1 {
		t.Fatalf("Join after reopening = %s at %d, want waiting at 1", second.Status, second.Position)
	}
	ev := f.event("e")
	ev.State, ev.StateReason = queuepass.StateClosed, queuepass.ReasonSoldOut
	_, err := f.s.UpdateEvent(t.Context(), ev, at(5))
	f.ok(err)

	for range 2 {
		for _, c := range []struct {
			id     string
			ended  time.Time
			reason queuepass.StatusReason
		}{{first.ID, at(2), ""}, {second.ID, at(5), queuepass.ReasonSoldOut}} {
			tk := f.ticket("e", c.id)
			if tk.Status != queuepass.StatusClosed || !tk.EndedAt.Equal(c.ended) || tk.StatusReason != c.reason {
				t.Errorf("Ticket = %s ended %v, reason %q; want closed ended %v, reason %q", tk.Status, tk.EndedAt, tk.StatusReason, c.ended, c.reason)
			}
		}
		if got, want := f.event("e").Counts, (queuepass.Counts{Closed: 2}); got != want {
			t.Errorf("Counts = %+v, want %+v", got, want)
		}
		f.s.Close()
		f.s = openTemp(t, dir)
	}
}

func TestCanceledContext(t *testing.T) {
	s := openTemp(t, t.TempDir())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.CreateEvent(ctx, newEvent("e", queuepass.StateOpen)); !errors.Is(err, context.Canceled) {
		t.Fatalf("CreateEvent(canceled) error = %v, want context.Canceled", err)
	}
	if _, err := s.Event(t.Context(), "e"); !errors.Is(err, queuepass.ErrEventNotFound) {
		t.Errorf("Event after canceled CreateEvent error = %v, want ErrEventNotFound", err)
	}
}

// TestPaceMarkReopen checks that AdmitPaced's pacing mark is durable: after
// a burst, a reopened store admits only what the time since then earned,
// not a fresh burst.
func TestPaceMarkReopen(t *testing.T) {
	dir := t.TempDir()
	f := &fixture{t: t, s: openTemp(t, dir)}
	f.createEvent("e", queuepass.StateOpen)
	for i := range 50 {
		f.join("e", fmt.Sprintf("u%d", i), at(0))
	}
	paced := func(when time.Time) int {
		t.Helper()
		adm, err := f.s.AdmitPaced(t.Context(), "e", 600, when)
		f.ok(err)
		return len(adm.Tickets)
	}
	if n := paced(at(10)); n != 11 {
		t.Fatalf("AdmitPaced(600/min) on a fresh mark admitted %d, want 11 (a burst)", n)
	}
	if err := f.s.Close(); err != nil {
		t.Fatalf("Close() error: %v", err)
	}
	f.s = openTemp(t, dir)
	for _, st := range []struct {
		when time.Time
		want int
	}{
		{at(10).Add(300 * time.Millisecond), 3}, // 300 ms at 10 a second
		{at(10).Add(350 * time.Millisecond), 0}, // half a ticket, kept
	} {
		if n := paced(st.when); n != st.want {
			t.Errorf("AdmitPaced(600/min) at %v after reopening admitted %d, want %d", st.when.Format(time.StampMilli), n, st.want)
		}
	}
	if got := f.event("e").Counts.Admitted; got != 14 {
		t.Errorf("Counts.Admitted = %d, want 14", got)
	}
}

// TestFairnessReopen checks that closing and opening the data directory
// keeps what joins spend and what the fairness steps record: the settings
// that ask for proof, spent challenges, access codes and their uses, the
// draw and DrawnAt, Sold, and a closing's reason on the event and on the
// tickets it closed lazily.
func TestFairnessReopen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	f := &fixture{t: t, s: openTemp(t, dir)}
	ids := map[string][]string{}
	proof := func(challenge, code string) queuepass.JoinProof {
		return queuepass.JoinProof{Challenge: challenge, ChallengeExpires: at(3600), Code: code}
	}

	// "drop": scheduled, asking for proof and counting inventory; drawn,
	// admitted and partly sold.
	ev := newEvent("drop", queuepass.StateScheduled)
	ev.ChallengeDifficulty, ev.Access, ev.Inventory = 8, queuepass.AccessByCode, 10
	_, err := f.s.CreateEvent(ctx, ev)
	f.ok(err)
	f.ok(f.s.AddCodes(ctx, "drop", []queuepass.AccessCode{{Code: "A", Uses: 2}, {Code: "B", Uses: 3}}))
	for i, p := range []queuepass.JoinProof{proof("c1", "A"), proof("c2", "A"), proof("c3", "B")} {
		tk, created, err := f.s.Join(ctx, "drop", fmt.Sprintf("u%d", i), p, at(1))
		if err != nil || !created {
			t.Fatalf("Join(u%d, %+v) = created %v, error %v; want a new ticket", i, p, created, err)
		}
		ids["drop"] = append(ids["drop"], tk.ID)
	}
	f.setState("drop", queuepass.StateOpen, at(10))
	adm := f.admit("drop", 2, at(11))
	_, err = f.s.Complete(ctx, "drop", adm.Tickets[0].ID, 3, at(12))
	f.ok(err)

	// "sold": closed as sold out with a line, which it closes lazily.
	f.createEvent("sold", queuepass.StateOpen)
	for i := range 3 {
		tk, _ := f.join("sold", fmt.Sprintf("s%d", i), at(1))
		ids["sold"] = append(ids["sold"], tk.ID)
	}
	ev = f.event("sold")
	ev.State, ev.StateReason = queuepass.StateClosed, queuepass.ReasonSoldOut
	_, err = f.s.UpdateEvent(ctx, ev, at(5))
	f.ok(err)

	before := f.snapshot(ids)
	draw, err := f.s.Draw(ctx, "drop")
	f.ok(err)
	codes, err := f.s.Codes(ctx, "drop", "", 10)
	f.ok(err)
	if err := f.s.Close(); err != nil {
		t.Fatalf("Close() error: %v", err)
	}
	f.s = openTemp(t, dir)

	if d := before.diff(f.snapshot(ids)); d != "" {
		t.Errorf("after reopening:\n%s", d)
	}
	if got, err := f.s.Draw(ctx, "drop"); err != nil || !slices.Equal(got, draw) || len(got) != 3 {
		t.Errorf("Draw after reopening = %x, %v; want %x", got, err, draw)
	}
	if got, err := f.s.Codes(ctx, "drop", "", 10); err != nil || !slices.Equal(got, codes) {
		t.Errorf("Codes after reopening = %+v, %v; want %+v", got, err, codes)
	}
	got := f.event("drop")
	if got.ChallengeDifficulty != 8 || got.Access != queuepass.AccessByCode || got.Inventory != 10 || got.Sold != 3 ||
		!got.DrawnAt.Equal(at(10)) || got.Codes != (queuepass.CodeCounts{Codes: 2, Uses: 5, Used: 3}) {
		t.Errorf("Event(drop) after reopening = %+v; want its settings, Sold 3, DrawnAt %v and Codes {2 5 3}", got, at(10))
	}
	for _, id := range ids["sold"] {
		if tk := f.ticket("sold", id); tk.Status != queuepass.StatusClosed || tk.StatusReason != queuepass.ReasonSoldOut {
			t.Errorf("Ticket(sold) after reopening = %s, reason %q; want closed, %q", tk.Status, tk.StatusReason, queuepass.ReasonSoldOut)
		}
	}

	// What was spent stays spent; what is left can still be spent.
	for _, c := range []struct {
		proof queuepass.JoinProof
		want  error
	}{
		{proof("c1", "B"), queuepass.ErrChallengeFailed},
		{proof("c4", "A"), queuepass.ErrAccessDenied},
		{proof("c4", "B"), nil},
		{proof("c5", "B"), nil},
		{proof("c6", "B"), queuepass.ErrAccessDenied},
	} {
		_, _, err := f.s.Join(ctx, "drop", "new-"+c.proof.Challenge, c.proof, at(20))
		if !errors.Is(err, c.want) {
			t.Errorf("Join(%+v) after reopening error = %v, want %v", c.proof, err, c.want)
		}
	}
	if got := f.event("drop").Codes; got != (queuepass.CodeCounts{Codes: 2, Uses: 5, Used: 5}) {
		t.Errorf("Event(drop).Codes after joining = %+v, want {2 5 5}", got)
	}
}

// spentCounts returns the number of keys in an event's two buckets of
// spent challenges.
func (f *fixture) spentCounts(eventID string) (spent, byTime int) {
	f.t.Helper()
	f.ok(f.s.db.View(func(tx *bbolt.Tx) error {
		eb := eventBucket(tx, eventID)
		if b := eb.Bucket(bucketSpent); b != nil {
			spent = b.Stats().KeyN
		}
		if b := eb.Bucket(bucketSpentTime); b != nil {
			byTime = b.Stats().KeyN
		}
		return nil
	}))
	return spent, byTime
}

// TestSpentChallengesForgotten checks that joins forget spent challenges
// once they are due, oldest first and at most forgetBatch per join, that
// one is remembered up to and including its expiry, and that what is due
// survives a reopen.
func TestSpentChallengesForgotten(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	f := &fixture{t: t, s: openTemp(t, dir)}
	ev := newEvent("e", queuepass.StateOpen)
	ev.ChallengeDifficulty = 1
	_, err := f.s.CreateEvent(ctx, ev)
	f.ok(err)
	join := func(user, challenge string, expires, when time.Time) error {
		t.Helper()
		_, _, err := f.s.Join(ctx, "e", user, queuepass.JoinProof{Challenge: challenge, ChallengeExpires: expires}, when)
		return err
	}
	const early = forgetBatch + 10
	for i := range early {
		f.ok(join(fmt.Sprintf("u%d", i), fmt.Sprintf("c%d", i), at(60), at(1)))
	}
	f.ok(join("late", "c-late", at(1000), at(1)))
	want := func(step string, n int) {
		t.Helper()
		if spent, byTime := f.spentCounts("e"); spent != n || byTime != n {
			t.Errorf("%s: %d spent challenges, %d by time; want %d", step, spent, byTime, n)
		}
	}
	want("after spending", early+1)

	// At its expiry a challenge is still remembered.
	f.ok(join("x1", "x1", at(3600), at(60)))
	want("join at the expiry", early+2)
	if err := join("again", "c0", at(3600), at(60)); !errors.Is(err, queuepass.ErrChallengeFailed) {
		t.Errorf("Join with c0 at its expiry error = %v, want ErrChallengeFailed", err)
	}

	f.ok(join("x2", "x2", at(3600), at(61)))
	want("first join after the expiry", early+3-forgetBatch)
	f.ok(join("x3", "x3", at(3600), at(62)))
	want("second join after the expiry", 4)

	if err := f.s.Close(); err != nil {
		t.Fatalf("Close() error: %v", err)
	}
	f.s = openTemp(t, dir)
	if err := join("again", "c-late", at(3600), at(999)); !errors.Is(err, queuepass.ErrChallengeFailed) {
		t.Errorf("Join with c-late before its expiry, after reopening, error = %v, want ErrChallengeFailed", err)
	}
	f.ok(join("x4", "x4", at(3600), at(1001)))
	want("join after c-late expired, after reopening", 4)
	if err := join("again", "c-late", at(3600), at(1002)); err != nil {
		t.Errorf("Join with c-late after it was forgotten error = %v, want none", err)
	}
}

// TestUnknownStateReason checks that a StateReason not defined for events
// is refused before anything is written, also by the closing that would
// rewrite ticket records with it, whose format has no code for it.
func TestUnknownStateReason(t *testing.T) {
	ctx := t.Context()
	f := &fixture{t: t, s: openTemp(t, t.TempDir())}
	var ve *queuepass.ValidationError
	for _, reason := range []queuepass.StatusReason{"moon_phase", queuepass.ReasonRevoked} {
		bad := newEvent("bad", queuepass.StateClosed)
		bad.StateReason = reason
		if _, err := f.s.CreateEvent(ctx, bad); !errors.As(err, &ve) {
			t.Errorf("CreateEvent(StateReason %q) error = %v, want a *queuepass.ValidationError", reason, err)
		}
	}

	f.createEvent("e", queuepass.StateOpen)
	f.setState("e", queuepass.StateClosed, at(1))
	f.setState("e", queuepass.StateOpen, at(2))
	tk, _ := f.join("e", "a", at(3))
	ev := f.event("e")
	ev.State, ev.StateReason = queuepass.StateClosed, "moon_phase"
	if _, err := f.s.UpdateEvent(ctx, ev, at(4)); !errors.As(err, &ve) {
		t.Errorf("UpdateEvent(closed, StateReason %q) error = %v, want a *queuepass.ValidationError", ev.StateReason, err)
	}
	if got := f.event("e"); got.State != queuepass.StateOpen || got.Version != ev.Version {
		t.Errorf("after the refused update, Event = %s, version %d; want open, %d", got.State, got.Version, ev.Version)
	}
	if got := f.ticket("e", tk.ID); got.Status != queuepass.StatusWaiting {
		t.Errorf("after the refused update, Ticket = %s, want waiting", got.Status)
	}
}

// TestTokenBucketsForgetFull checks that buckets that are full again are
// forgotten, so that a stream of new keys does not grow memory without
// bound, and that forgetting one does not change its answers.
func TestTokenBucketsForgetFull(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t, t.TempDir())
	const rounds, perRound = 10, 20_000
	for r := range rounds {
		when := at(10 * r)
		for i := range perRound {
			if ok, _, err := s.TakeToken(ctx, fmt.Sprintf("k%d-%d", r, i), time.Second, 2, when); err != nil || !ok {
				t.Fatalf("TakeToken(new key) = %v, %v; want a token", ok, err)
			}
		}
	}
	held := 0
	for i := range s.tokens.shards {
		held += len(s.tokens.shards[i].marks)
	}
	if held > 3*perRound {
		t.Errorf("after %d rounds of %d new keys, each full again by the next, %d buckets are held; want at most %d", rounds, perRound, held, 3*perRound)
	}
	for r := range rounds {
		for _, when := range []time.Time{at(1000), at(1000)} {
			if ok, _, err := s.TakeToken(ctx, fmt.Sprintf("k%d-0", r), time.Second, 2, when); err != nil || !ok {
				t.Errorf("TakeToken(k%d-0) at %v = %v, %v; want a token from a full bucket", r, when, ok, err)
			}
		}
		if ok, retry, _ := s.TakeToken(ctx, fmt.Sprintf("k%d-0", r), time.Second, 2, at(1000)); ok || retry != time.Second {
			t.Errorf("third TakeToken(k%d-0) at once = %v, retry %v; want refused, retry 1s", r, ok, retry)
		}
	}
}
