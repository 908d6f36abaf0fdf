package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/queuepass/queuepass"
)

var codeTests = []subtest{
	{"AddAndList", testCodesAddAndList},
	{"AddExisting", testCodesAddExisting},
	{"SetUses", testCodesSetUses},
	{"SetUsesRace", testCodesSetUsesRace},
}

// wantCodes checks one page of the event's codes.
func (f *fixture) wantCodes(eventID, after string, limit int, want []queuepass.AccessCode) {
	f.t.Helper()
	got, err := f.s.Codes(f.ctx(), eventID, after, limit)
	if err != nil {
		f.t.Fatalf("Codes(%q, %q, %d) error: %v", eventID, after, limit, err)
	}
	if !slices.Equal(got, want) {
		f.t.Errorf("Codes(%q, %q, %d) = %+v, want %+v", eventID, after, limit, got, want)
	}
}

func testCodesAddAndList(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.eventWith("e", 0, queuepass.AccessByCode)
	f.eventWith("other", 0, queuepass.AccessByCode)
	f.wantCodes("e", "", 10, nil)
	f.addCodes("e", queuepass.AccessCode{Code: "M", Uses: 1}, queuepass.AccessCode{Code: "B", Uses: 5})
	f.addCodes("e", queuepass.AccessCode{Code: "Z9", Uses: 2}, queuepass.AccessCode{Code: "A-1", Uses: 1})
	f.addCodes("other", queuepass.AccessCode{Code: "B", Uses: 1})
	f.addCodes("e") // nothing

	all := []queuepass.AccessCode{{Code: "A-1", Uses: 1}, {Code: "B", Uses: 5}, {Code: "M", Uses: 1}, {Code: "Z9", Uses: 2}}
	f.wantCodes("e", "", 10, all)
	f.wantCodes("e", "", 2, all[:2])
	f.wantCodes("e", "B", 2, all[2:])
	f.wantCodes("e", "C", 10, all[2:]) // after need not be a code
	f.wantCodes("e", "Z9", 10, nil)
	f.wantCodes("other", "", 10, []queuepass.AccessCode{{Code: "B", Uses: 1}})
	if got, want := f.event("e").Codes, (queuepass.CodeCounts{Codes: 4, Uses: 9}); got != want {
		t.Errorf("Event(e).Codes = %+v, want %+v", got, want)
	}

	err := f.s.AddCodes(f.ctx(), "nope", []queuepass.AccessCode{{Code: "X", Uses: 1}})
	wantErr(t, "AddCodes(nope)", err, queuepass.ErrEventNotFound)
	_, err = f.s.Codes(f.ctx(), "nope", "", 10)
	wantErr(t, "Codes(nope)", err, queuepass.ErrEventNotFound)
}

// testCodesAddExisting checks that a batch with a code the event has, or
// with one code twice, adds nothing.
func testCodesAddExisting(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.eventWith("e", 0, queuepass.AccessByCode)
	f.addCodes("e", queuepass.AccessCode{Code: "OLD", Uses: 3})
	for _, batch := range [][]queuepass.AccessCode{
		{{Code: "NEW1", Uses: 1}, {Code: "OLD", Uses: 1}, {Code: "NEW2", Uses: 1}},
		{{Code: "NEW1", Uses: 1}, {Code: "NEW1", Uses: 2}},
	} {
		err := f.s.AddCodes(f.ctx(), "e", batch)
		wantErr(t, fmt.Sprintf("AddCodes(%v)", batch), err, queuepass.ErrCodeExists)
	}
	f.wantCodes("e", "", 10, []queuepass.AccessCode{{Code: "OLD", Uses: 3}})
	if got, want := f.event("e").Codes, (queuepass.CodeCounts{Codes: 1, Uses: 3}); got != want {
		t.Errorf("Event(e).Codes after refused batches = %+v, want %+v", got, want)
	}
}

// testCodesSetUses checks that SetCodeUses raises and lowers a code's
// uses, never below its used, keeps the event's Codes in step, and that a
// join needs a use left under the new count.
func testCodesSetUses(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.eventWith("e", 0, queuepass.AccessByCode)
	f.addCodes("e", queuepass.AccessCode{Code: "C", Uses: 2}, queuepass.AccessCode{Code: "D", Uses: 4})
	setUses := func(code string, uses int, want queuepass.AccessCode) {
		t.Helper()
		got, err := f.s.SetCodeUses(f.ctx(), "e", code, uses)
		if err != nil || got != want {
			t.Fatalf("SetCodeUses(%q, %d) = %+v, %v; want %+v", code, uses, got, err, want)
		}
	}
	joinWithCode := func(user, code string) error {
		t.Helper()
		_, _, err := f.joinWith("e", user, queuepass.JoinProof{Code: code}, at(1))
		return err
	}
	if err := joinWithCode("u1", "C"); err != nil {
		t.Fatal(err)
	}
	setUses("C", 3, queuepass.AccessCode{Code: "C", Uses: 3, Used: 1})
	setUses("C", 3, queuepass.AccessCode{Code: "C", Uses: 3, Used: 1}) // unchanged
	if err := joinWithCode("u2", "C"); err != nil {
		t.Fatal(err)
	}
	setUses("C", 0, queuepass.AccessCode{Code: "C", Uses: 2, Used: 2}) // ended: no fewer than used
	wantErr(t, "Join with an ended code", joinWithCode("u3", "C"), queuepass.ErrAccessDenied)
	setUses("D", 1, queuepass.AccessCode{Code: "D", Uses: 1})
	if got, want := f.event("e").Codes, (queuepass.CodeCounts{Codes: 2, Uses: 3, Used: 2}); got != want {
		t.Errorf("Event(e).Codes = %+v, want %+v", got, want)
	}
	f.wantCodes("e", "", 10, []queuepass.AccessCode{{Code: "C", Uses: 2, Used: 2}, {Code: "D", Uses: 1}})

	_, err := f.s.SetCodeUses(f.ctx(), "e", "NOPE", 1)
	wantErr(t, "SetCodeUses(unknown code)", err, queuepass.ErrCodeNotFound)
	_, err = f.s.SetCodeUses(f.ctx(), "nope", "C", 1)
	wantErr(t, "SetCodeUses(unknown event)", err, queuepass.ErrEventNotFound)
}

// testCodesSetUsesRace checks that ending a code while joins race for it
// leaves the code exactly as used as the tickets made with it, and the
// event's Codes in step.
func testCodesSetUsesRace(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	f.eventWith("e", 0, queuepass.AccessByCode)
	n := scale(40)
	f.addCodes("e", queuepass.AccessCode{Code: "C", Uses: n})
	ctx := f.ctx()
	made := make([]bool, n)
	errs := make([]error, n)
	var ended queuepass.AccessCode
	var endErr error
	together(n+1, func(i int) {
		if i == n {
			ended, endErr = f.s.SetCodeUses(ctx, "e", "C", 0)
			return
		}
		_, made[i], errs[i] = f.s.Join(ctx, "e", fmt.Sprintf("user-%d", i), queuepass.JoinProof{Code: "C"}, at(1))
	})
	if endErr != nil {
		t.Fatalf("SetCodeUses(C, 0) among joins: %v", endErr)
	}
	tickets := madeOrRefused(t, "Join racing the code's end", made, errs, queuepass.ErrAccessDenied)
	if ended.Uses != ended.Used || ended.Used > tickets {
		t.Errorf("SetCodeUses(C, 0) = %+v, want uses = used, at most the %d tickets made", ended, tickets)
	}
	want := queuepass.AccessCode{Code: "C", Uses: tickets, Used: tickets}
	f.wantCodes("e", "", 10, []queuepass.AccessCode{want})
	if got := f.event("e").Codes; got != (queuepass.CodeCounts{Codes: 1, Uses: tickets, Used: tickets}) {
		t.Errorf("Event(e).Codes = %+v, want 1 code with %d uses, all used", got, tickets)
	}
	f.wantCounts("e", queuepass.Counts{Waiting: tickets})
}
