package waitroom_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/boltstore"
	"github.com/queuepass/queuepass/internal/clocktest"
	"github.com/queuepass/queuepass/internal/pass"
	"github.com/queuepass/queuepass/internal/waitroom"
)

// solved returns a join offer with a fresh challenge of the event, solved.
func solved(t *testing.T, r *waitroom.Room, eventID string) waitroom.JoinOffer {
	t.Helper()
	c, err := r.NewChallenge(t.Context(), eventID)
	if err != nil {
		t.Fatalf("NewChallenge(%q) = %v", eventID, err)
	}
	nonce, err := queuepass.SolveChallenge(t.Context(), c.Token, c.Difficulty)
	if err != nil {
		t.Fatal(err)
	}
	return waitroom.JoinOffer{Challenge: c.Token, Nonce: nonce}
}

func TestChallenges(t *testing.T) {
	r, clock := newRoom(t)
	ctx := t.Context()
	ev := mustCreate(t, r, waitroom.EventSpec{ID: "pow", Name: "pow", ChallengeDifficulty: 10})
	mustCreate(t, r, waitroom.EventSpec{ID: "other", Name: "other", ChallengeDifficulty: 10})

	c, err := r.NewChallenge(ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Difficulty != 10 || !c.ExpiresAt.Equal(start.Add(waitroom.ChallengeTTL)) {
		t.Errorf("NewChallenge = difficulty %d, expires %v; want 10, %v", c.Difficulty, c.ExpiresAt, start.Add(waitroom.ChallengeTTL))
	}
	if _, _, err := r.Join(ctx, ev.ID, "alice", waitroom.JoinOffer{}); !errors.Is(err, queuepass.ErrChallengeRequired) {
		t.Errorf("Join without a challenge = %v, want ErrChallengeRequired", err)
	}

	good := solved(t, r, ev.ID)
	tampered := []byte(good.Challenge)
	tampered[5] ^= 1
	forOther := solved(t, r, "other")
	unsolved := solved(t, r, ev.ID)
	unsolved.Nonce = "not-the-nonce" // one in 1024 solves it; this one does not
	if queuepass.ChallengeSolved(unsolved.Challenge, unsolved.Nonce, 10) {
		t.Fatal("the wrong nonce happens to solve the challenge; pick another")
	}
	foreign := waitroom.New(waitroom.Config{Store: storeOf(t), Keys: pass.Generate(), Now: clock.Now})
	mustCreate(t, foreign, waitroom.EventSpec{ID: "pow", Name: "pow", ChallengeDifficulty: 10})
	fromForeign := solved(t, foreign, "pow")
	for _, tt := range []struct {
		name  string
		offer waitroom.JoinOffer
	}{
		{"tampered", waitroom.JoinOffer{Challenge: string(tampered), Nonce: good.Nonce}},
		{"of another event", forOther},
		{"with a wrong nonce", unsolved},
		{"with no nonce", waitroom.JoinOffer{Challenge: good.Challenge}},
		{"made by other keys", fromForeign},
		{"not base64", waitroom.JoinOffer{Challenge: "%%%", Nonce: "1"}},
	} {
		if _, _, err := r.Join(ctx, ev.ID, "alice", tt.offer); !errors.Is(err, queuepass.ErrChallengeFailed) {
			t.Errorf("Join with a challenge %s = %v, want ErrChallengeFailed", tt.name, err)
		}
	}

	alice, created, err := r.Join(ctx, ev.ID, "alice", good)
	if err != nil || !created {
		t.Fatalf("Join with a solved challenge = created %v, %v; want a new ticket", created, err)
	}
	if _, _, err := r.Join(ctx, ev.ID, "bob", good); !errors.Is(err, queuepass.ErrChallengeFailed) {
		t.Errorf("Join of bob with alice's spent challenge = %v, want ErrChallengeFailed", err)
	}
	// Alice rejoins with nothing, or with anything: no new work.
	for _, offer := range []waitroom.JoinOffer{{}, good, {Challenge: "junk", Nonce: "1"}} {
		if v, created, err := r.Join(ctx, ev.ID, "alice", offer); err != nil || created || v.ID != alice.ID {
			t.Errorf("repeat Join of alice with %+v = %s, created %v, %v; want her ticket", offer, v.ID, created, err)
		}
	}

	// A challenge runs out after ChallengeTTL.
	late := solved(t, r, ev.ID)
	clock.Advance(waitroom.ChallengeTTL)
	if _, _, err := r.Join(ctx, ev.ID, "carol", late); !errors.Is(err, queuepass.ErrChallengeFailed) {
		t.Errorf("Join with an expired challenge = %v, want ErrChallengeFailed", err)
	}

	// Raising the difficulty makes challenges issued before it useless.
	easy := solved(t, r, ev.ID)
	if _, err := r.UpdateEvent(ctx, ev.ID, waitroom.EventPatch{ChallengeDifficulty: ptr(12)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Join(ctx, ev.ID, "carol", easy); !errors.Is(err, queuepass.ErrChallengeFailed) {
		t.Errorf("Join with a challenge below the new difficulty = %v, want ErrChallengeFailed", err)
	}
	hard := solved(t, r, ev.ID)
	if _, created, err := r.Join(ctx, ev.ID, "carol", hard); err != nil || !created {
		t.Errorf("Join with a challenge at the new difficulty = created %v, %v; want a new ticket", created, err)
	}

	// Events without a difficulty take joins with or without one.
	mustCreate(t, r, waitroom.EventSpec{ID: "free", Name: "free"})
	for _, offer := range []waitroom.JoinOffer{{}, solved(t, r, "free")} {
		if _, created, err := r.Join(ctx, "free", fmt.Sprint("u", offer.Nonce), offer); err != nil || !created {
			t.Errorf("Join of an event without a difficulty with %+v = created %v, %v", offer, created, err)
		}
	}
	closed := mustCreate(t, r, waitroom.EventSpec{ID: "shut", Name: "shut"})
	if _, err := r.UpdateEvent(ctx, closed.ID, waitroom.EventPatch{State: ptr(queuepass.StateClosed)}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.NewChallenge(ctx, closed.ID); !errors.Is(err, queuepass.ErrEventClosed) {
		t.Errorf("NewChallenge of a closed event = %v, want ErrEventClosed", err)
	}
	if _, err := r.NewChallenge(ctx, "nope"); !errors.Is(err, queuepass.ErrEventNotFound) {
		t.Errorf("NewChallenge of an unknown event = %v, want ErrEventNotFound", err)
	}
}

// TestChallengeOfADeletedEvent checks that a challenge spent in an event
// does not come back to life when the event is deleted and created again
// under the same ID (the spent record goes with the event).
func TestChallengeOfADeletedEvent(t *testing.T) {
	r, clock := newRoom(t)
	ctx := t.Context()
	spec := waitroom.EventSpec{ID: "again", Name: "again", ChallengeDifficulty: 6}
	mustCreate(t, r, spec)
	spent := solved(t, r, spec.ID)
	unspent := solved(t, r, spec.ID)
	if _, _, err := r.Join(ctx, spec.ID, "alice", spent); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteEvent(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	mustCreate(t, r, spec)
	for name, offer := range map[string]waitroom.JoinOffer{"spent": spent, "unspent": unspent} {
		if _, _, err := r.Join(ctx, spec.ID, "bob", offer); !errors.Is(err, queuepass.ErrChallengeFailed) {
			t.Errorf("Join of the new event with a %s challenge of the deleted one = %v, want ErrChallengeFailed", name, err)
		}
	}
	if _, created, err := r.Join(ctx, spec.ID, "bob", solved(t, r, spec.ID)); err != nil || !created {
		t.Errorf("Join of the new event with its own challenge = created %v, %v", created, err)
	}
}

// TestChallengesAcrossRooms checks that rooms sharing a store and a key
// set (nodes) take each other's challenges and spend them once.
func TestChallengesAcrossRooms(t *testing.T) {
	store := storeOf(t)
	keys := pass.Generate()
	clock := clocktest.New(start)
	a := waitroom.New(waitroom.Config{Store: store, Keys: keys, Now: clock.Now})
	b := waitroom.New(waitroom.Config{Store: store, Keys: keys, Now: clock.Now})
	mustCreate(t, a, waitroom.EventSpec{ID: "e", Name: "e", ChallengeDifficulty: 6})
	offer := solved(t, a, "e")
	if _, created, err := b.Join(t.Context(), "e", "u1", offer); err != nil || !created {
		t.Fatalf("Join on node b with a challenge of node a = created %v, %v", created, err)
	}
	if _, _, err := a.Join(t.Context(), "e", "u2", offer); !errors.Is(err, queuepass.ErrChallengeFailed) {
		t.Errorf("Join on node a with the challenge spent on node b = %v, want ErrChallengeFailed", err)
	}
}

// TestChallengesAcrossSkewedClocks checks that a node whose clock is
// behind finds a challenge spent even after a node whose clock is ahead
// has passed its expiry (and its joins have let the store forget what
// expired by their clock).
func TestChallengesAcrossSkewedClocks(t *testing.T) {
	store := storeOf(t)
	keys := pass.Generate()
	slow := clocktest.New(start)
	fast := clocktest.New(start.Add(30 * time.Second))
	a := waitroom.New(waitroom.Config{Store: store, Keys: keys, Now: slow.Now})
	b := waitroom.New(waitroom.Config{Store: store, Keys: keys, Now: fast.Now})
	mustCreate(t, a, waitroom.EventSpec{ID: "e", Name: "e", ChallengeDifficulty: 6})
	offer := solved(t, a, "e")
	if _, created, err := a.Join(t.Context(), "e", "u1", offer); err != nil || !created {
		t.Fatalf("Join on the slow node = created %v, %v", created, err)
	}
	// Just before the expiry by the slow clock; past it by the fast one,
	// whose join (with a challenge of its own) lets the store forget.
	slow.Advance(waitroom.ChallengeTTL - time.Second)
	fast.Advance(waitroom.ChallengeTTL - time.Second)
	if _, created, err := b.Join(t.Context(), "e", "u2", solved(t, b, "e")); err != nil || !created {
		t.Fatalf("Join on the fast node = created %v, %v", created, err)
	}
	if _, _, err := a.Join(t.Context(), "e", "u3", offer); !errors.Is(err, queuepass.ErrChallengeFailed) {
		t.Errorf("Join on the slow node with the challenge it spent = %v, want ErrChallengeFailed", err)
	}
}

func storeOf(t *testing.T) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestChallengeTokenShape(t *testing.T) {
	r, _ := newRoom(t)
	mustCreate(t, r, waitroom.EventSpec{ID: "e", Name: "e", ChallengeDifficulty: 3})
	seen := map[string]bool{}
	for range 50 {
		c, err := r.NewChallenge(t.Context(), "e")
		if err != nil {
			t.Fatal(err)
		}
		b, err := base64.RawURLEncoding.DecodeString(c.Token)
		if err != nil || len(b) != 42 {
			t.Fatalf("challenge %q decodes to %d bytes (%v), want 42", c.Token, len(b), err)
		}
		if seen[c.Token] {
			t.Fatalf("challenge %q issued twice", c.Token)
		}
		seen[c.Token] = true
	}
}

func TestAccessCodes(t *testing.T) {
	r, _ := newRoom(t)
	ctx := t.Context()
	mustCreate(t, r, waitroom.EventSpec{ID: "vip", Name: "vip", Access: queuepass.AccessByCode})

	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"abcd", "ABCD", true},
		{"Fan-Club_2027", "FAN-CLUB_2027", true},
		{"abc", "", false},
		{"ab cd", "", false},
		{"ümlaut", "", false},
		{string(make([]byte, 65)), "", false},
	} {
		if got, ok := waitroom.NormalizeCode(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("NormalizeCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}

	added, err := r.AddCodes(ctx, "vip", []string{"FAN-1", "FAN-2"}, 1)
	if err != nil || len(added) != 2 || added[0] != (queuepass.AccessCode{Code: "FAN-1", Uses: 1}) {
		t.Fatalf("AddCodes = %+v, %v", added, err)
	}
	generated, err := r.GenerateCodes(ctx, "vip", 5, 3)
	if err != nil || len(generated) != 5 {
		t.Fatalf("GenerateCodes(5) = %+v, %v", generated, err)
	}
	shape := regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$`)
	for _, c := range generated {
		if !shape.MatchString(c.Code) || c.Uses != 3 || c.Used != 0 {
			t.Errorf("generated code %+v, want XXXX-XXXX-XXXX in Crockford base32 with 3 uses", c)
		}
	}
	if _, err := r.AddCodes(ctx, "vip", []string{"NEW", "FAN-1"}, 1); !errors.Is(err, queuepass.ErrCodeExists) {
		t.Errorf("AddCodes with an existing code = %v, want ErrCodeExists", err)
	}

	if _, _, err := r.Join(ctx, "vip", "alice", waitroom.JoinOffer{}); !errors.Is(err, queuepass.ErrAccessDenied) {
		t.Errorf("Join without a code = %v, want ErrAccessDenied", err)
	}
	// Codes are matched as typed in either case.
	if _, created, err := r.Join(ctx, "vip", "alice", waitroom.JoinOffer{AccessCode: "fan-1"}); err != nil || !created {
		t.Fatalf("Join with fan-1 = created %v, %v", created, err)
	}
	for _, code := range []string{"fan-1", "FAN-1", "no such code", "FAN-3"} {
		if _, _, err := r.Join(ctx, "vip", "bob", waitroom.JoinOffer{AccessCode: code}); !errors.Is(err, queuepass.ErrAccessDenied) {
			t.Errorf("Join of bob with %q = %v, want ErrAccessDenied", code, err)
		}
	}

	var all []queuepass.AccessCode
	for cursor := ""; ; {
		page, next, err := r.Codes(ctx, "vip", cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(all) != 7 {
		t.Fatalf("Codes in pages of 3 gave %d codes, want 7: %+v", len(all), all)
	}
	for _, c := range all {
		if want := map[bool]int{true: 1, false: 0}[c.Code == "FAN-1"]; c.Used != want {
			t.Errorf("code %s used %d times, want %d", c.Code, c.Used, want)
		}
	}
}

func TestInventorySellsOut(t *testing.T) {
	r, _ := newRoom(t)
	ctx := t.Context()
	ev := mustCreate(t, r, waitroom.EventSpec{ID: "seats", Name: "seats", Inventory: 5})
	var tickets []waitroom.TicketView
	for i := range 8 {
		tickets = append(tickets, mustJoin(t, r, ev.ID, fmt.Sprint("fan-", i)))
	}
	// 5 left, nobody admitted: positions 6 and beyond are likely sold out.
	for i, v := range tickets {
		if want := i+1 > 5; v.LikelySoldOut != want {
			t.Errorf("ticket at position %d: LikelySoldOut = %v, want %v", v.Position, v.LikelySoldOut, want)
		}
	}
	if _, err := r.Admit(ctx, ev.ID, 2); err != nil {
		t.Fatal(err)
	}
	// 5 left, 2 admitted: waiting positions beyond 3 are likely sold out.
	for _, v := range tickets[2:] {
		got, err := r.Ticket(ctx, ev.ID, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := got.Position > 3; got.LikelySoldOut != want {
			t.Errorf("after admitting 2: position %d LikelySoldOut = %v, want %v", got.Position, got.LikelySoldOut, want)
		}
	}

	if _, err := r.Complete(ctx, ev.ID, tickets[0].ID, 4); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Event(ctx, ev.ID); got.State != queuepass.StateOpen || got.Sold != 4 {
		t.Fatalf("after selling 4 of 5: state %s, sold %d; want open, 4", got.State, got.Sold)
	}
	done, err := r.Complete(ctx, ev.ID, tickets[1].ID, 2) // more than is left: the site knows best
	if err != nil || done.Status != queuepass.StatusCompleted {
		t.Fatalf("Complete of the last = %s, %v", done.Status, err)
	}
	got, err := r.Event(ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != queuepass.StateClosed || got.StateReason != queuepass.ReasonSoldOut || got.Sold != 6 {
		t.Errorf("after selling out: state %s, reason %q, sold %d; want closed, sold_out, 6", got.State, got.StateReason, got.Sold)
	}
	for _, v := range tickets[2:] {
		got, err := r.Ticket(ctx, ev.ID, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != queuepass.StatusClosed || got.StatusReason != queuepass.ReasonSoldOut {
			t.Errorf("waiting ticket after selling out: %s, reason %q; want closed, sold_out", got.Status, got.StatusReason)
		}
	}
	if _, _, err := r.Join(ctx, ev.ID, "late", waitroom.JoinOffer{}); !errors.Is(err, queuepass.ErrEventClosed) {
		t.Errorf("Join after selling out = %v, want ErrEventClosed", err)
	}
}

// TestInventoryLoweredToSold checks that lowering the inventory to what is
// sold closes the event as sold out, and that an admin's closing gives no
// reason.
func TestInventoryLoweredToSold(t *testing.T) {
	r, _ := newRoom(t)
	ctx := t.Context()
	ev := mustCreate(t, r, waitroom.EventSpec{ID: "e", Name: "e", Inventory: 100})
	a := mustJoin(t, r, ev.ID, "a")
	mustJoin(t, r, ev.ID, "b")
	if _, err := r.Admit(ctx, ev.ID, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Complete(ctx, ev.ID, a.ID, 3); err != nil {
		t.Fatal(err)
	}
	got, err := r.UpdateEvent(ctx, ev.ID, waitroom.EventPatch{Inventory: ptr(3)})
	if err != nil || got.State != queuepass.StateClosed || got.StateReason != queuepass.ReasonSoldOut {
		t.Errorf("lowering the inventory to the 3 sold = %s, %q, %v; want closed, sold_out", got.State, got.StateReason, err)
	}

	other := mustCreate(t, r, waitroom.EventSpec{ID: "f", Name: "f", Inventory: 100})
	got, err = r.UpdateEvent(ctx, other.ID, waitroom.EventPatch{State: ptr(queuepass.StateClosed)})
	if err != nil || got.StateReason != "" {
		t.Errorf("an admin's closing = reason %q, %v; want none", got.StateReason, err)
	}
}

func TestDraw(t *testing.T) {
	r, clock := newRoom(t)
	ctx := t.Context()
	ev := mustCreate(t, r, waitroom.EventSpec{ID: "drop", Name: "drop", OpensAt: start.Add(time.Minute)})
	var ids []string
	for i := range 6 {
		ids = append(ids, mustJoin(t, r, ev.ID, fmt.Sprint("early-", i)).ID)
	}
	if _, err := r.Draw(ctx, ev.ID); !errors.Is(err, queuepass.ErrDrawPending) {
		t.Errorf("Draw before opening = %v, want ErrDrawPending", err)
	}
	clock.Advance(time.Minute)
	d, err := r.Draw(ctx, ev.ID)
	if err != nil {
		t.Fatalf("Draw after opening = %v", err)
	}
	if d.Commitment != queuepass.DrawCommitment(ev.DrawSeed) || !d.DrawnAt.Equal(start.Add(time.Minute)) || len(d.Order) != 6 {
		t.Errorf("Draw = commitment %x, drawn %v, %d entrants; want the event's, %v, 6", d.Commitment, d.DrawnAt, len(d.Order), start.Add(time.Minute))
	}
	if err := queuepass.VerifyDraw(d.Commitment, d.Seed, d.Order); err != nil {
		t.Errorf("VerifyDraw = %v", err)
	}
	// Each entrant finds its place in the draw at its place in the line.
	for _, id := range ids {
		v, err := r.Ticket(ctx, ev.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if h := queuepass.DrawHash(id); d.Order[v.Position-1] != h {
			t.Errorf("ticket at position %d is not at place %d of the draw", v.Position, v.Position)
		}
	}

	open := mustCreate(t, r, waitroom.EventSpec{ID: "open", Name: "open"})
	if _, err := r.Draw(ctx, open.ID); !errors.Is(err, queuepass.ErrNoDraw) {
		t.Errorf("Draw of an event created open = %v, want ErrNoDraw", err)
	}
	if _, err := r.Draw(ctx, "nope"); !errors.Is(err, queuepass.ErrEventNotFound) {
		t.Errorf("Draw of an unknown event = %v, want ErrEventNotFound", err)
	}
	// A deleted and recreated event does not serve the old draw.
	if err := r.DeleteEvent(ctx, ev.ID); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, r, waitroom.EventSpec{ID: "drop", Name: "again", OpensAt: clock.Now().Add(time.Minute)})
	if _, err := r.Draw(ctx, "drop"); !errors.Is(err, queuepass.ErrDrawPending) {
		t.Errorf("Draw of the recreated event = %v, want ErrDrawPending", err)
	}
}

func TestParseLimit(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want waitroom.Limit
	}{
		{"5/s", waitroom.Limit{Interval: 200 * time.Millisecond, Burst: 5}},
		{"120/m:20", waitroom.Limit{Interval: 500 * time.Millisecond, Burst: 20}},
		{"1/h", waitroom.Limit{Interval: time.Hour, Burst: 1}},
		{"1000000/s", waitroom.Limit{Interval: time.Microsecond, Burst: 100_000}},
		{"off", waitroom.Limit{}},
		{"", waitroom.Limit{}},
	} {
		got, err := waitroom.ParseLimit(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseLimit(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if again, _ := waitroom.ParseLimit(got.String()); again != got {
			t.Errorf("ParseLimit(%q) = %+v, but its String %q reads back as %+v", tt.in, got, got.String(), again)
		}
	}
	for _, in := range []string{"5", "0/s", "-1/s", "5/d", "5/s:0", "5/s:x", "x/s", "2000000/s", "1/s:100001"} {
		if _, err := waitroom.ParseLimit(in); err == nil {
			t.Errorf("ParseLimit(%q) accepted", in)
		}
	}
}

func TestAllow(t *testing.T) {
	store := storeOf(t)
	clock := clocktest.New(start)
	limits := waitroom.Limits{waitroom.LimitJoin: {Interval: time.Second, Burst: 2}}
	r := waitroom.New(waitroom.Config{Store: store, Keys: pass.Generate(), Now: clock.Now, Limits: limits})
	ctx := context.Background()
	for i := range 2 {
		if err := r.Allow(ctx, waitroom.LimitJoin, "198.51.100.7"); err != nil {
			t.Fatalf("join %d within the burst: %v", i+1, err)
		}
	}
	err := r.Allow(ctx, waitroom.LimitJoin, "198.51.100.7")
	var rl *queuepass.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("join beyond the burst = %v, want a RateLimitError to retry after 1s", err)
	}
	if err := r.Allow(ctx, waitroom.LimitJoin, "198.51.100.8"); err != nil {
		t.Errorf("another client's join = %v, want allowed", err)
	}
	if err := r.Allow(ctx, waitroom.LimitRead, "198.51.100.7"); err != nil {
		t.Errorf("a read, which has no limit = %v, want allowed", err)
	}
	clock.Advance(time.Second)
	if err := r.Allow(ctx, waitroom.LimitJoin, "198.51.100.7"); err != nil {
		t.Errorf("join a second later = %v, want allowed", err)
	}
	if !r.Limited(waitroom.LimitJoin) || r.Limited(waitroom.LimitRead) {
		t.Errorf("Limited(join), Limited(read) = %v, %v; want true, false", r.Limited(waitroom.LimitJoin), r.Limited(waitroom.LimitRead))
	}
}

// gatedStore holds every UpdateEvent until want event reads have been
// made, and records how many UpdateEvents were in flight at once.
type gatedStore struct {
	queuepass.Store
	want        int32
	reads       atomic.Int32
	release     chan struct{}
	inFlight    atomic.Int32
	maxInFlight atomic.Int32
}

func (s *gatedStore) Event(ctx context.Context, id string) (queuepass.Event, error) {
	ev, err := s.Store.Event(ctx, id)
	if s.reads.Add(1) == s.want {
		close(s.release)
	}
	return ev, err
}

func (s *gatedStore) UpdateEvent(ctx context.Context, ev queuepass.Event, at time.Time) (queuepass.Event, error) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for m := s.maxInFlight.Load(); n > m && !s.maxInFlight.CompareAndSwap(m, n); m = s.maxInFlight.Load() {
	}
	<-s.release
	return s.Store.UpdateEvent(ctx, ev, at)
}

// TestOpeningIsMadeOnce checks that the joins that find an event due to
// open at once share one opening (each would read and draw the whole
// pre-queue), and all get their tickets.
func TestOpeningIsMadeOnce(t *testing.T) {
	const joins = 20
	store := &gatedStore{Store: storeOf(t), want: joins, release: make(chan struct{})}
	clock := clocktest.New(start)
	r := waitroom.New(waitroom.Config{Store: store, Keys: pass.Generate(), Now: clock.Now})
	mustCreate(t, r, waitroom.EventSpec{ID: "drop", Name: "drop", OpensAt: start.Add(time.Minute)})
	for i := range 5 {
		mustJoin(t, r, "drop", fmt.Sprint("early-", i))
	}
	clock.Advance(time.Minute)
	store.reads.Store(0)

	var wg sync.WaitGroup
	errs := make([]error, joins)
	for i := range joins {
		wg.Go(func() {
			v, _, err := r.Join(t.Context(), "drop", fmt.Sprint("fan-", i), waitroom.JoinOffer{})
			if err == nil && v.Status != queuepass.StatusWaiting {
				err = fmt.Errorf("joined %s, want waiting", v.Status)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := store.maxInFlight.Load(); got != 1 {
		t.Errorf("%d openings of one event were in flight at once, want 1", got)
	}
	if ev, err := r.Event(t.Context(), "drop"); err != nil || ev.Counts.Waiting != 5+joins {
		t.Errorf("event after the joins = %d waiting, %v; want %d", ev.Counts.Waiting, err, 5+joins)
	}
}
