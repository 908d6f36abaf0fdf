package storetest

import (
	"testing"
	"time"

	"github.com/queuepass/queuepass"
)

var tokenTests = []subtest{
	{"Bucket", testTakeToken},
	{"Race", testTakeTokenRace},
}

func (f *fixture) take(key string, interval time.Duration, burst int, at time.Time) (bool, time.Duration) {
	f.t.Helper()
	ok, retry, err := f.s.TakeToken(f.ctx(), key, interval, burst, at)
	if err != nil {
		f.t.Fatalf("TakeToken(%q) error: %v", key, err)
	}
	return ok, retry
}

// testTakeToken checks a bucket's arithmetic against TakeToken's, and that
// buckets are independent.
func testTakeToken(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	var mark int64
	steps := []struct {
		key string
		sec float64
	}{
		{"a", 0}, {"a", 0}, {"a", 0}, {"a", 0}, {"b", 0}, {"a", 0.5}, {"a", 2}, {"a", 2}, {"a", 2.25}, {"a", 3600},
	}
	for i, s := range steps {
		when := at(0).Add(time.Duration(s.sec * float64(time.Second)))
		ok, retry := f.take(s.key, 2*time.Second, 3, when)
		if s.key != "a" {
			if !ok {
				t.Errorf("step %d: TakeToken(%q) of a new bucket refused", i, s.key)
			}
			continue
		}
		var wantOK bool
		var wantRetry time.Duration
		mark, wantOK, wantRetry = queuepass.TakeToken(mark, when, 2*time.Second, 3)
		if ok != wantOK || retry != wantRetry {
			t.Errorf("step %d: TakeToken(a) at +%vs = %v, retry after %v; want %v, %v", i, s.sec, ok, retry, wantOK, wantRetry)
		}
	}
}

// testTakeTokenRace checks that concurrent takes from one bucket never
// take more tokens than it holds.
func testTakeTokenRace(t *testing.T, newStore newStoreFunc) {
	f := begin(t, newStore)
	n := scale(60)
	const burst = 7
	ctx := f.ctx()
	oks := make([]bool, n)
	errs := make([]error, n)
	together(n, func(i int) {
		oks[i], _, errs[i] = f.s.TakeToken(ctx, "shared", time.Minute, burst, at(1))
	})
	taken := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("concurrent TakeToken error: %v", errs[i])
		}
		if oks[i] {
			taken++
		}
	}
	if taken != burst {
		t.Errorf("%d concurrent TakeToken calls on a bucket of %d took %d tokens, want %d", n, burst, taken, burst)
	}
	if ok, _ := f.take("shared", time.Minute, burst, at(2)); ok {
		t.Error("TakeToken a second later took a token from an emptied bucket that gains one a minute")
	}
}
