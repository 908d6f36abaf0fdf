package boltstore

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/queuepass/queuepass"
)

// bulkJoin joins n new users to an open event through the store's own join
// op, in commits of up to bulkBatch joins, and returns their ticket IDs.
// It builds big lines in seconds where n fsyncs would take minutes.
func bulkJoin(tb testing.TB, s *Store, eventID string, n int) []string {
	tb.Helper()
	ids := make([]string, 0, n)
	for start := 0; start < n; start += bulkBatch {
		m := min(bulkBatch, n-start)
		ops := make([]*op, m)
		tickets := make([]queuepass.Ticket, m)
		for i := range ops {
			var created bool
			user := fmt.Sprintf("user-%07d", start+i)
			ops[i] = &op{ctx: context.Background(), done: make(chan struct{}), run: s.join(eventID, user, queuepass.JoinProof{}, at(0), &tickets[i], &created)}
		}
		s.commit(ops) // the writer is idle: the caller has no call in flight
		for i, o := range ops {
			if o.err != nil {
				tb.Fatalf("bulk join %d: %v", start+i, o.err)
			}
			ids = append(ids, tickets[i].ID)
		}
	}
	return ids
}

const bulkBatch = 100_000

// bigLine makes a store in dir with an open event "e" whose line holds n
// waiting tickets.
func bigLine(tb testing.TB, dir string, n int) (*Store, []string) {
	tb.Helper()
	s, err := Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	if _, err := s.CreateEvent(context.Background(), newEvent("e", queuepass.StateOpen)); err != nil {
		tb.Fatal(err)
	}
	return s, bulkJoin(tb, s, "e", n)
}

// BenchmarkTicketPosition reads waiting tickets: a bbolt read of the record
// and a Fenwick rank. spread=all strides over the whole line (the B+tree no
// longer fits in CPU caches at 1M); spread=1000 over its first 1000
// tickets, which isolates the cost of the code from that of cache misses.
func BenchmarkTicketPosition(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("waiting=%d", n), func(b *testing.B) {
			s, ids := bigLine(b, b.TempDir(), n)
			spreads := []int{n}
			if n > 1000 {
				spreads = append(spreads, 1000)
			}
			for _, spread := range spreads {
				name := "spread=all"
				if spread < n {
					name = fmt.Sprintf("spread=%d", spread)
				}
				b.Run(name, func(b *testing.B) {
					ctx := context.Background()
					runtime.GC() // not the building's garbage
					i := 0
					for b.Loop() {
						i = (i + 7919) % spread // a prime stride
						tk, err := s.Ticket(ctx, "e", ids[i])
						if err != nil || tk.Position != i+1 {
							b.Fatalf("Ticket(#%d) = position %d, %v; want %d", i, tk.Position, err, i+1)
						}
					}
				})
			}
		})
	}
}

// BenchmarkLinePosition is the in-memory rank alone.
func BenchmarkLinePosition(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("waiting=%d", n), func(b *testing.B) {
			var l lineIndex
			for slot := range uint64(n) {
				l.add(slot + 1)
			}
			i := 0
			for b.Loop() {
				i = (i + 7919) % n
				if p := l.position(uint64(i + 1)); p != i+1 {
					b.Fatalf("position(%d) = %d", i+1, p)
				}
			}
		})
	}
}

// BenchmarkJoin joins new users from many goroutines at once; ops/commit
// shows how many joins share one commit and fsync.
func BenchmarkJoin(b *testing.B) {
	benchJoin(b, newEvent("e", queuepass.StateOpen), nil, func(int64) queuepass.JoinProof { return queuepass.JoinProof{} })
}

// BenchmarkJoinProof is BenchmarkJoin in an event that asks every new
// ticket for a challenge, which it spends, and an access code use.
func BenchmarkJoinProof(b *testing.B) {
	ev := newEvent("e", queuepass.StateOpen)
	ev.ChallengeDifficulty, ev.Access = 1, queuepass.AccessByCode
	codes := []queuepass.AccessCode{{Code: "BENCH", Uses: math.MaxInt32}}
	benchJoin(b, ev, codes, func(user int64) queuepass.JoinProof {
		return queuepass.JoinProof{Challenge: fmt.Sprint("c", user), ChallengeExpires: at(3600), Code: "BENCH"}
	})
}

// benchJoin joins new users to ev, with the event's codes and each user's
// proof, at 1, 16 and 128 callers per GOMAXPROCS.
func benchJoin(b *testing.B, ev queuepass.Event, codes []queuepass.AccessCode, proof func(user int64) queuepass.JoinProof) {
	for _, par := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("callers=%dxGOMAXPROCS", par), func(b *testing.B) {
			s, err := Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			if _, err := s.CreateEvent(ctx, ev); err != nil {
				b.Fatal(err)
			}
			if err := s.AddCodes(ctx, ev.ID, codes); err != nil {
				b.Fatal(err)
			}
			commits, ops := s.commits.Load(), s.committedOps.Load()
			var user atomic.Int64
			b.SetParallelism(par)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					u := user.Add(1)
					if _, _, err := s.Join(ctx, ev.ID, fmt.Sprint(u), proof(u), at(1)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			if c := s.commits.Load() - commits; c > 0 {
				b.ReportMetric(float64(s.committedOps.Load()-ops)/float64(c), "ops/commit")
			}
		})
	}
}

// BenchmarkOpen1M opens a file whose event has 1M waiting tickets and
// reports the time Open takes and the heap its indexes hold per ticket.
func BenchmarkOpen1M(b *testing.B) {
	const n = 1_000_000
	dir := b.TempDir()
	s, _ := bigLine(b, dir, n)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		before := heapInUse()
		start := time.Now()
		s, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		after := heapInUse()
		ev, err := s.Event(context.Background(), "e")
		if err != nil || ev.Counts.Waiting != n {
			b.Fatalf("reopened event: %d waiting, %v; want %d", ev.Counts.Waiting, err, n)
		}
		b.ReportMetric(float64(after-before)/n, "heap-bytes/ticket")
		b.ReportMetric(elapsed.Seconds(), "open-seconds")
		runtime.KeepAlive(s)
		s.Close()
	}
}

// heapInUse returns the bytes of live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkStateChange1M times the two state changes that touch a whole
// line in one step: closing an event with 1M waiting tickets, and opening
// one with 1M tickets in the pre-queue (the draw). Run with -benchtime 1x:
// each iteration builds its line first, outside the timer.
func BenchmarkStateChange1M(b *testing.B) {
	const n = 1_000_000
	for _, c := range []struct {
		name     string
		from, to queuepass.EventState
		wantLine int
	}{
		{"close", queuepass.StateOpen, queuepass.StateClosed, 0},
		{"open-draw", queuepass.StateScheduled, queuepass.StateOpen, n},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			for range b.N {
				b.StopTimer()
				s, err := Open(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				ev, err := s.CreateEvent(ctx, newEvent("e", c.from))
				if err != nil {
					b.Fatal(err)
				}
				bulkJoin(b, s, "e", n)
				runtime.GC()
				ev.State = c.to
				b.StartTimer()
				got, err := s.UpdateEvent(ctx, ev, at(10))
				b.StopTimer()
				if err != nil || got.Counts.Waiting != c.wantLine {
					b.Fatalf("UpdateEvent(%s) = %d waiting, %v; want %d", c.to, got.Counts.Waiting, err, c.wantLine)
				}
				s.Close()
			}
		})
	}
}
