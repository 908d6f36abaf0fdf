package boltstore

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
)

// TestRecentReadsBothFormats checks that admission histories written
// before batches kept their median wait still read, with MedianWait 0,
// and that the current format round-trips.
func TestRecentReadsBothFormats(t *testing.T) {
	at := time.Date(2026, 12, 3, 18, 0, 0, 5, time.UTC)
	var old []byte
	for _, n := range []uint64{3, 500} {
		old = appendTime(old, at)
		old = binary.AppendUvarint(old, n)
	}
	got, err := unmarshalRecent(old)
	want := []queuepass.AdmissionBatch{{At: at, Count: 3}, {At: at, Count: 500}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("unmarshalRecent(old format) = %v, %v; want %v", got, err, want)
	}
	want = []queuepass.AdmissionBatch{{At: at, Count: 3, MedianWait: 90 * time.Second}, {At: at.Add(time.Minute), Count: 1}}
	if got, err := unmarshalRecent(marshalRecent(want)); err != nil || !slices.Equal(got, want) {
		t.Errorf("unmarshalRecent(marshalRecent(%v)) = %v, %v", want, got, err)
	}
	if got, err := unmarshalRecent(nil); err != nil || len(got) != 0 {
		t.Errorf("unmarshalRecent(nil) = %v, %v; want none", got, err)
	}
}

// TestTicketReasonRoundTrips checks that a ticket without a reason keeps
// the original record format, and one with a reason reads back.
func TestTicketReasonRoundTrips(t *testing.T) {
	at := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	for _, r := range []ticketRec{
		{status: queuepass.StatusAdmitted, slot: 7, userID: "u,1", joined: at, admitted: at, passExp: at.Add(time.Minute)},
		{status: queuepass.StatusExpired, slot: 7, userID: "u", joined: at, admitted: at, passExp: at.Add(time.Minute), ended: at, reason: queuepass.ReasonRevoked},
	} {
		b := r.marshal()
		if oldFormat := b[0] == ticketFormat; oldFormat != (r.reason == "") {
			t.Errorf("ticket with reason %q written as format %d", r.reason, b[0])
		}
		got, err := unmarshalTicket(b)
		if err != nil || got != r {
			t.Errorf("unmarshalTicket(marshal(%+v)) = %+v, %v", r, got, err)
		}
	}
	if _, err := unmarshalTicket([]byte{ticketFormat2, 0}); err == nil {
		t.Error("unmarshalTicket(truncated format 2) succeeded, want an error")
	}
}

// TestTicketLastSeenRoundTrips checks that a ticket with a LastSeen is
// written as format 3, with or without a reason, and reads back.
func TestTicketLastSeenRoundTrips(t *testing.T) {
	at := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	for _, r := range []ticketRec{
		{status: queuepass.StatusWaiting, slot: 9, userID: "u,2", joined: at, seen: at.Add(15 * time.Second)},
		{status: queuepass.StatusExpired, slot: 9, userID: "u", joined: at, ended: at.Add(time.Minute), reason: queuepass.ReasonAbandoned, seen: at.Add(time.Second)},
		{status: queuepass.StatusExpired, slot: 9, userID: "u", joined: at, ended: at.Add(time.Minute), reason: queuepass.ReasonAbandoned},
	} {
		b := r.marshal()
		if format3 := b[0] == ticketFormat3; format3 != !r.seen.IsZero() {
			t.Errorf("ticket seen at %v written as format %d", r.seen, b[0])
		}
		got, err := unmarshalTicket(b)
		if err != nil || got != r {
			t.Errorf("unmarshalTicket(marshal(%+v)) = %+v, %v", r, got, err)
		}
	}
}

// TestReasonCodes checks the stored codes of status reasons, which files
// on disk depend on, and that a ticket closed as sold out reads back.
func TestReasonCodes(t *testing.T) {
	for code, r := range []queuepass.StatusReason{"", queuepass.ReasonRevoked, queuepass.ReasonAbandoned, queuepass.ReasonSoldOut} {
		if got := reasonCode(r); int(got) != code {
			t.Errorf("reasonCode(%q) = %d, want %d", r, got, code)
		}
	}
	at := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	r := ticketRec{status: queuepass.StatusClosed, slot: 3, userID: "u", joined: at, ended: at.Add(time.Hour), reason: queuepass.ReasonSoldOut}
	if got, err := unmarshalTicket(r.marshal()); err != nil || got != r {
		t.Errorf("unmarshalTicket(marshal(%+v)) = %+v, %v", r, got, err)
	}
}

func TestCodeRoundTrips(t *testing.T) {
	for _, c := range []queuepass.AccessCode{{Code: "A", Uses: 1}, {Code: "VIP-2027", Uses: 100_000, Used: 99_999}} {
		if got, err := unmarshalCode(c.Code, marshalCode(c)); err != nil || got != c {
			t.Errorf("unmarshalCode(marshalCode(%+v)) = %+v, %v", c, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {1}, {1, 0, 0}} {
		if _, err := unmarshalCode("X", bad); err == nil {
			t.Errorf("unmarshalCode(%x) succeeded, want an error", bad)
		}
	}
}

func TestDrawRoundTrips(t *testing.T) {
	for _, hashes := range [][][32]byte{{}, {queuepass.DrawHash("a"), queuepass.DrawHash("b"), queuepass.DrawHash("c")}} {
		got, err := unmarshalDraw(marshalDraw(hashes))
		if err != nil || got == nil || !slices.Equal(got, hashes) {
			t.Errorf("unmarshalDraw(marshalDraw(%x)) = %x, %v; want the same, not nil", hashes, got, err)
		}
	}
	if _, err := unmarshalDraw(make([]byte, 33)); err == nil {
		t.Error("unmarshalDraw(33 bytes) succeeded, want an error")
	}
}

// TestTimeKeyOrder checks that timeKey sorts in time order, before the
// Unix epoch too, and that keyTime reads it back.
func TestTimeKeyOrder(t *testing.T) {
	times := []time.Time{
		time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Unix(0, 0).UTC(),
		time.Date(2026, 12, 3, 18, 0, 0, 1, time.UTC),
		time.Date(2026, 12, 3, 18, 0, 1, 0, time.UTC),
	}
	for i, tm := range times {
		k := timeKey(tm)
		if got := keyTime(append(k, "suffix"...)); !got.Equal(tm) {
			t.Errorf("keyTime(timeKey(%v)) = %v", tm, got)
		}
		if i > 0 && bytes.Compare(timeKey(times[i-1]), k) >= 0 {
			t.Errorf("timeKey(%v) does not sort before timeKey(%v)", times[i-1], tm)
		}
	}
}
