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
