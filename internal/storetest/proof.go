package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
)

var proofTests = []subtest{
	{"Challenge", testJoinChallenge},
	{"ChallengeRace", testJoinChallengeRace},
	{"ChallengeSpentAtLeastUntilJoin", testJoinChallengeKeptUntilJoin},
	{"ChallengeTooLong", testJoinChallengeTooLong},
	{"Code", testJoinCode},
	{"CodeRace", testJoinCodeRace},
	{"AllOrNothing", testJoinProofAllOrNothing},
	{"IgnoredUnlessRequired", testJoinProofNotRequired},
}

// challenge returns a proof with challenge id c, valid for a minute after
// at(0).
func challenge(c string) queuepass.JoinProof {
	return queuepass.JoinProof{Challenge: c, ChallengeExpires: at(60)}
}

// joinWith joins with proof and returns the ticket, whether it was made,
// and the error.
func (f *fixture) joinWith(eventID, userID string, proof queuepass.JoinProof, at time.Time) (queuepass.Ticket, bool, error) {
	f.t.Helper()
	return f.s.Join(f.ctx(), eventID, userID, proof, at)
}

// eventWith creates an open event with the given requirements.
func (f *fixture) eventWith(id string, difficulty int, access queuepass.Access) queuepass.Event {
	f.t.Helper()
	ev := newEvent(id, queuepass.StateOpen)
	ev.ChallengeDifficulty, ev.Access = difficulty, access
	return f.createEvent(ev)
}

func (f *fixture) addCodes(eventID string, codes ...queuepass.AccessCode) {
	f.t.Helper()
	if err := f.s.AddCodes(f.ctx(), eventID, codes); err != nil {
		f.t.Fatalf("AddCodes(%q, %v) error: %v", eventID, codes, err)
	}
}

// testJoinChallenge checks that an event with a difficulty makes a ticket
// only for an unspent challenge, spends it, and asks nothing of a user
// who already holds a live ticket.
func testJoinChallenge(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.eventWith("e", 12, queuepass.AccessPublic)
	f.eventWith("other", 12, queuepass.AccessPublic)

	_, _, err := f.joinWith("e", "alice", queuepass.JoinProof{}, at(1))
	wantErr(t, "Join without a challenge", err, queuepass.ErrChallengeRequired)
	alice, created, err := f.joinWith("e", "alice", challenge("c1"), at(2))
	if err != nil || !created {
		t.Fatalf("Join with a fresh challenge = created %v, error %v; want a new ticket", created, err)
	}
	_, _, err = f.joinWith("e", "bob", challenge("c1"), at(3))
	wantErr(t, "Join of another user with a spent challenge", err, queuepass.ErrChallengeFailed)
	f.wantCounts("e", queuepass.Counts{Waiting: 1})

	// Alice holds a live ticket: whatever she brings, she gets it back.
	for _, p := range []queuepass.JoinProof{{}, challenge("c1"), challenge("c2")} {
		tk, created, err := f.joinWith("e", "alice", p, at(4))
		if err != nil || created || tk.ID != alice.ID {
			t.Errorf("repeat Join of alice with %+v = %s, created %v, error %v; want her ticket %s", p, tk.ID, created, err, alice.ID)
		}
	}
	// … and spending nothing: c2 still makes Bob's ticket.
	if _, created, err := f.joinWith("e", "bob", challenge("c2"), at(5)); err != nil || !created {
		t.Errorf("Join of bob with c2, offered by alice's repeat = created %v, error %v; want a new ticket", created, err)
	}
	// A challenge is spent in its event only.
	if _, created, err := f.joinWith("other", "bob", challenge("c1"), at(6)); err != nil || !created {
		t.Errorf("Join in another event with c1 = created %v, error %v; want a new ticket", created, err)
	}
	// Leaving and joining again is a new ticket, which costs a new challenge.
	f.leave("e", alice.ID, at(7))
	_, _, err = f.joinWith("e", "alice", challenge("c1"), at(8))
	wantErr(t, "Join after leaving with the spent challenge", err, queuepass.ErrChallengeFailed)
	if _, created, err := f.joinWith("e", "alice", challenge("c3"), at(9)); err != nil || !created {
		t.Errorf("Join after leaving with a fresh challenge = created %v, error %v; want a new ticket", created, err)
	}
	f.wantCounts("e", queuepass.Counts{Waiting: 2, Left: 1})
}

// testJoinChallengeRace checks that many concurrent joins of different
// users with one challenge make exactly one ticket.
func testJoinChallengeRace(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.eventWith("e", 8, queuepass.AccessPublic)
	n := scale(40)
	ctx := f.ctx()
	errs := make([]error, n)
	made := make([]bool, n)
	together(n, func(i int) {
		_, made[i], errs[i] = f.s.Join(ctx, "e", fmt.Sprintf("user-%d", i), challenge("shared"), at(1))
	})
	tickets := madeOrRefused(t, "concurrent Join with one challenge", made, errs, queuepass.ErrChallengeFailed)
	if tickets != 1 {
		t.Errorf("%d concurrent joins with one challenge made %d tickets, want 1", n, tickets)
	}
	f.wantCounts("e", queuepass.Counts{Waiting: 1})
}

// madeOrRefused checks that each of a batch of joins (what) either made a
// ticket or failed with refusal, and returns how many made one.
func madeOrRefused(t *testing.T, what string, made []bool, errs []error, refusal error) int {
	t.Helper()
	tickets := 0
	for i := range made {
		switch {
		case errs[i] == nil && made[i]:
			tickets++
		case errors.Is(errs[i], refusal):
		default:
			t.Errorf("%s, %d of %d = created %v, error %v; want a ticket or %v", what, i+1, len(made), made[i], errs[i], refusal)
		}
	}
	return tickets
}

// testJoinCode checks that an event with access by code makes a ticket
// only with a code that has a use left, counts its uses, and asks nothing
// of a user who already holds a live ticket.
func testJoinCode(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.eventWith("e", 0, queuepass.AccessByCode)
	f.addCodes("e", queuepass.AccessCode{Code: "ONCE", Uses: 1}, queuepass.AccessCode{Code: "TWICE", Uses: 2})

	for _, code := range []string{"", "NOPE", "once"} {
		_, _, err := f.joinWith("e", "alice", queuepass.JoinProof{Code: code}, at(1))
		wantErr(t, fmt.Sprintf("Join with code %q", code), err, queuepass.ErrAccessDenied)
	}
	alice, created, err := f.joinWith("e", "alice", queuepass.JoinProof{Code: "ONCE"}, at(2))
	if err != nil || !created {
		t.Fatalf("Join with a fresh code = created %v, error %v; want a new ticket", created, err)
	}
	_, _, err = f.joinWith("e", "bob", queuepass.JoinProof{Code: "ONCE"}, at(3))
	wantErr(t, "Join with a used-up code", err, queuepass.ErrAccessDenied)
	for _, p := range []queuepass.JoinProof{{}, {Code: "ONCE"}, {Code: "TWICE"}} {
		tk, created, err := f.joinWith("e", "alice", p, at(4))
		if err != nil || created || tk.ID != alice.ID {
			t.Errorf("repeat Join of alice with %+v = %s, created %v, error %v; want her ticket %s", p, tk.ID, created, err, alice.ID)
		}
	}
	for _, user := range []string{"bob", "carol"} {
		if _, created, err := f.joinWith("e", user, queuepass.JoinProof{Code: "TWICE"}, at(5)); err != nil || !created {
			t.Errorf("Join of %s with TWICE = created %v, error %v; want a new ticket", user, created, err)
		}
	}
	_, _, err = f.joinWith("e", "dave", queuepass.JoinProof{Code: "TWICE"}, at(6))
	wantErr(t, "third Join with TWICE", err, queuepass.ErrAccessDenied)

	f.wantCounts("e", queuepass.Counts{Waiting: 3})
	if got, want := f.event("e").Codes, (queuepass.CodeCounts{Codes: 2, Uses: 3, Used: 3}); got != want {
		t.Errorf("Event.Codes = %+v, want %+v", got, want)
	}
	f.wantCodes("e", "", 10, []queuepass.AccessCode{{Code: "ONCE", Uses: 1, Used: 1}, {Code: "TWICE", Uses: 2, Used: 2}})
}

// testJoinCodeRace checks that concurrent joins of different users with
// one code make exactly as many tickets as it has uses.
func testJoinCodeRace(t *testing.T, newStore newStoreFunc) {
	for _, uses := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d uses", uses), func(t *testing.T) {
			t.Parallel()
			f := begin(t, newStore)
			f.eventWith("e", 0, queuepass.AccessByCode)
			f.addCodes("e", queuepass.AccessCode{Code: "C", Uses: uses})
			n := scale(40)
			ctx := f.ctx()
			errs := make([]error, n)
			made := make([]bool, n)
			together(n, func(i int) {
				_, made[i], errs[i] = f.s.Join(ctx, "e", fmt.Sprintf("user-%d", i), queuepass.JoinProof{Code: "C"}, at(1))
			})
			tickets := madeOrRefused(t, "concurrent Join with one code", made, errs, queuepass.ErrAccessDenied)
			if tickets != uses {
				t.Errorf("%d concurrent joins with a code of %d uses made %d tickets, want %d", n, uses, tickets, uses)
			}
			f.wantCounts("e", queuepass.Counts{Waiting: uses})
			f.wantCodes("e", "", 10, []queuepass.AccessCode{{Code: "C", Uses: uses, Used: uses}})
		})
	}
}

// testJoinProofAllOrNothing checks that a join refused for one
// requirement spends nothing of the other.
func testJoinProofAllOrNothing(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.eventWith("e", 8, queuepass.AccessByCode)
	f.addCodes("e", queuepass.AccessCode{Code: "C", Uses: 1})

	_, _, err := f.joinWith("e", "alice", queuepass.JoinProof{Challenge: "c1", ChallengeExpires: at(60), Code: "WRONG"}, at(1))
	wantErr(t, "Join with a fresh challenge and a wrong code", err, queuepass.ErrAccessDenied)
	_, _, err = f.joinWith("e", "alice", queuepass.JoinProof{Code: "C"}, at(2))
	wantErr(t, "Join with a code and no challenge", err, queuepass.ErrChallengeRequired)
	f.wantCodes("e", "", 10, []queuepass.AccessCode{{Code: "C", Uses: 1}})

	// Neither was spent: together they make the ticket.
	if _, created, err := f.joinWith("e", "alice", queuepass.JoinProof{Challenge: "c1", ChallengeExpires: at(60), Code: "C"}, at(3)); err != nil || !created {
		t.Fatalf("Join with both = created %v, error %v; want a new ticket", created, err)
	}
	f.addCodes("e", queuepass.AccessCode{Code: "D", Uses: 1})
	_, _, err = f.joinWith("e", "bob", queuepass.JoinProof{Challenge: "c1", ChallengeExpires: at(60), Code: "D"}, at(4))
	wantErr(t, "Join with a spent challenge and a fresh code", err, queuepass.ErrChallengeFailed)
	f.wantCodes("e", "", 10, []queuepass.AccessCode{{Code: "C", Uses: 1, Used: 1}, {Code: "D", Uses: 1}})
	f.wantCounts("e", queuepass.Counts{Waiting: 1})
}

// testJoinProofNotRequired checks that events without requirements
// neither need nor spend proof.
func testJoinProofNotRequired(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.eventWith("e", 0, queuepass.AccessPublic)
	f.addCodes("e", queuepass.AccessCode{Code: "C", Uses: 1})
	for _, user := range []string{"alice", "bob"} {
		if _, created, err := f.joinWith("e", user, queuepass.JoinProof{Challenge: "c1", ChallengeExpires: at(60), Code: "C"}, at(1)); err != nil || !created {
			t.Errorf("Join of %s with proof nobody asks for = created %v, error %v; want a new ticket", user, created, err)
		}
	}
	f.wantCodes("e", "", 10, []queuepass.AccessCode{{Code: "C", Uses: 1}})
}

// testJoinChallengeKeptUntilJoin checks that a challenge is single-use at
// the instant it is spent, whatever expiry it comes with: at it, before
// it, or none.
func testJoinChallengeKeptUntilJoin(t *testing.T, newStore newStoreFunc) {
	for _, tt := range []struct {
		name    string
		expires time.Time
	}{
		{"expiring at the join", at(5)},
		{"expired before the join", at(1)},
		{"without an expiry", time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := begin(t, newStore)
			f.eventWith("e", 8, queuepass.AccessPublic)
			proof := queuepass.JoinProof{Challenge: "c", ChallengeExpires: tt.expires}
			if _, created, err := f.joinWith("e", "u1", proof, at(5)); err != nil || !created {
				t.Fatalf("first Join with the challenge = created %v, %v", created, err)
			}
			_, _, err := f.joinWith("e", "u2", proof, at(5))
			wantErr(t, "Join of another user with it at the same instant", err, queuepass.ErrChallengeFailed)
			f.wantCounts("e", queuepass.Counts{Waiting: 1})
		})
	}
}

// testJoinChallengeTooLong checks that a challenge longer than
// MaxProofChallenge is refused, and spends nothing.
func testJoinChallengeTooLong(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.eventWith("e", 8, queuepass.AccessPublic)
	long := strings.Repeat("c", queuepass.MaxProofChallenge+1)
	_, _, err := f.joinWith("e", "u1", queuepass.JoinProof{Challenge: long, ChallengeExpires: at(60)}, at(1))
	wantErr(t, "Join with a challenge too long", err, queuepass.ErrChallengeFailed)
	longest := long[1:]
	if _, created, err := f.joinWith("e", "u1", queuepass.JoinProof{Challenge: longest, ChallengeExpires: at(60)}, at(2)); err != nil || !created {
		t.Errorf("Join with a challenge of MaxProofChallenge bytes = created %v, %v", created, err)
	}
}
