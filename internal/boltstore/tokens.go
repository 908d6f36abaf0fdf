package boltstore

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/queuepass/queuepass"
)

// tokenShards is how many locks TakeToken's buckets are spread over, so
// that concurrent callers with different keys seldom wait for each other.
const tokenShards = 64

// minSweep is the number of buckets a shard holds before it first looks
// for full ones to forget.
const minSweep = 256

// tokenBuckets keeps TakeToken's buckets. They are not records, so they
// live in memory only, outside the writer and the file: a take costs no
// write, and a reopened store starts with every bucket full, as the
// contract allows. Call init before use.
type tokenBuckets struct {
	seed   maphash.Seed
	closed atomic.Bool
	shards [tokenShards]tokenShard
}

// tokenShard holds the marks of the keys that hash to it.
type tokenShard struct {
	mu      sync.Mutex
	marks   map[string]int64 // key → queuepass.TakeToken's mark; none: a full bucket
	sweepAt int              // the size at which the next new key sweeps
}

func (tb *tokenBuckets) init() { tb.seed = maphash.MakeSeed() }

// TakeToken takes a token from the bucket key at at, with the arithmetic
// of queuepass.TakeToken, and reports whether there was one and, if not,
// how long until there is (see queuepass.Store). It never waits for the
// writer or the disk. Buckets live in memory and are shared by the
// callers of this Store, which is every caller of its data directory;
// full buckets are forgotten, and a reopened store starts with all
// buckets full. After Close it fails with ErrUnavailable.
func (s *Store) TakeToken(ctx context.Context, key string, interval time.Duration, burst int, at time.Time) (bool, time.Duration, error) {
	tb := &s.tokens
	if tb.closed.Load() {
		return false, 0, errClosed
	}
	sh := &tb.shards[maphash.String(tb.seed, key)%tokenShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	mark, ok, retry := queuepass.TakeToken(sh.marks[key], at, interval, burst)
	if ok {
		sh.set(key, mark, at.UnixMicro())
	}
	return ok, retry, nil
}

// set records key's new mark. A key new to the shard may first sweep it,
// whenever the shard has doubled since its last sweep: memory stays within
// about twice the buckets that are not full, at O(1) amortized cost.
func (sh *tokenShard) set(key string, mark, now int64) {
	if _, ok := sh.marks[key]; !ok && len(sh.marks) >= sh.sweepAt {
		sh.sweep(now)
	}
	sh.marks[key] = mark
}

// sweep forgets the buckets that are full again at now (mark <= now).
func (sh *tokenShard) sweep(now int64) {
	if sh.marks == nil {
		sh.marks = make(map[string]int64)
	}
	for k, mark := range sh.marks {
		if mark <= now {
			delete(sh.marks, k)
		}
	}
	sh.sweepAt = max(2*len(sh.marks), minSweep)
}
