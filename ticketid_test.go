package queuepass_test

import (
	"testing"

	"github.com/queuepass/queuepass"
)

func TestTicketIDRoundTrip(t *testing.T) {
	for _, n := range []uint64{1, 127, 128, 1 << 20, 1<<63 + 5} {
		secret := queuepass.NewTicketSecret()
		id := queuepass.NewTicketID(n, secret)
		gotN, gotS, ok := queuepass.ParseTicketID(id)
		if !ok || gotN != n || !queuepass.SecretsEqual(gotS, secret) {
			t.Errorf("ParseTicketID(NewTicketID(%d)) = %d, %v; want the same number and secret", n, gotN, ok)
		}
	}
}

func TestParseTicketIDRejects(t *testing.T) {
	good := queuepass.NewTicketID(42, queuepass.NewTicketSecret())
	for _, id := range []string{"", "x", good + "A", good[:len(good)-1], good + "=", "AAAAAAAAAAAAAAAAAAAAAAA", "../../etc", good[:3] + "+" + good[4:]} {
		if _, _, ok := queuepass.ParseTicketID(id); ok {
			t.Errorf("ParseTicketID(%q) = ok, want rejected", id)
		}
	}
}

func FuzzParseTicketID(f *testing.F) {
	f.Add(queuepass.NewTicketID(1, [16]byte{}))
	f.Add("AQAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, id string) {
		n, s, ok := queuepass.ParseTicketID(id)
		if ok && queuepass.NewTicketID(n, s) != id {
			t.Errorf("ParseTicketID(%q) accepted a non-canonical ID", id)
		}
	})
}
