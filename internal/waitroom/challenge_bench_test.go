package waitroom

import (
	"context"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/pass"
)

// BenchmarkCheckChallenge is what a join with proof of work costs the
// server before the store: decoding the challenge, its MAC and one hash.
func BenchmarkCheckChallenge(b *testing.B) {
	now := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	ev := queuepass.Event{ID: "tour-2027", State: queuepass.StateOpen, ChallengeDifficulty: 12}
	r := New(Config{Store: fixedEvent{ev: ev}, Keys: pass.Generate(), Now: func() time.Time { return now }})
	c, err := r.NewChallenge(context.Background(), ev.ID)
	if err != nil {
		b.Fatal(err)
	}
	nonce, err := queuepass.SolveChallenge(context.Background(), c.Token, c.Difficulty)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.checkChallenge(ev, c.Token, nonce, now); err != nil {
			b.Fatal(err)
		}
	}
}

// fixedEvent is a store that knows one event and nothing else, enough for
// issuing challenges; its other methods are not to be called.
type fixedEvent struct {
	queuepass.Store
	ev queuepass.Event
}

func (s fixedEvent) Event(context.Context, string) (queuepass.Event, error) { return s.ev, nil }
