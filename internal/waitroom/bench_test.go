package waitroom_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/queuepass/queuepass/internal/waitroom"
)

// BenchmarkTicket reads a waiting ticket as a poll does: the event (and its
// due transitions), the ticket with its position, and the wait estimate.
func BenchmarkTicket(b *testing.B) {
	r, _ := newRoom(b)
	ctx := context.Background()
	ev := mustCreate(b, r, waitroom.EventSpec{Name: "bench"})
	var last waitroom.TicketView
	for i := range 2000 {
		last = mustJoin(b, r, ev.ID, fmt.Sprint("u", i))
	}
	if _, err := r.Admit(ctx, ev.ID, 1000); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Ticket(ctx, ev.ID, last.ID); err != nil {
			b.Fatal(err)
		}
	}
}
