package drop

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// A histogram of durations in constant memory, whatever the number of
// calls: values below 128 ns are exact; above, each power of two is split
// into 64 buckets, so a quantile is off by less than 1/64 (1.6%).
const (
	subBuckets = 64
	linearMax  = 2 * subBuckets // values below are their own bucket
	maxExp     = 40             // values are clamped below 2^40 ns (18 minutes)
	numBuckets = linearMax + (maxExp-7)*subBuckets
)

func bucketOf(ns int64) int {
	v := uint64(max(ns, 0))
	if v < linearMax {
		return int(v)
	}
	v = min(v, 1<<maxExp-1)
	e := bits.Len64(v) - 7 // v>>e is in [64, 128)
	return linearMax + (e-1)*subBuckets + int(v>>e) - subBuckets
}

// bucketValue is the middle of bucket b.
func bucketValue(b int) int64 {
	if b < linearMax {
		return int64(b)
	}
	e := (b-linearMax)/subBuckets + 1
	m := int64((b-linearMax)%subBuckets + subBuckets)
	return m<<e + 1<<(e-1)
}

// recorder collects one kind of call. It is safe for concurrent use.
type recorder struct {
	buckets [numBuckets]atomic.Int64
	count   atomic.Int64
	errs    atomic.Int64
	first   atomic.Int64 // start of the earliest call, ns since the run started
	last    atomic.Int64 // end of the latest call
	maxNs   atomic.Int64

	mu      sync.Mutex
	samples []string // the first few errors
}

const maxErrorSamples = 3

func newRecorder() *recorder {
	r := &recorder{}
	r.first.Store(math.MaxInt64)
	return r
}

// observe records a call that ran from start to end (ns since the run
// started) and failed with err, if not nil.
func (r *recorder) observe(start, end int64, err error) {
	d := end - start
	r.buckets[bucketOf(d)].Add(1)
	r.count.Add(1)
	for {
		f := r.first.Load()
		if start >= f || r.first.CompareAndSwap(f, start) {
			break
		}
	}
	for {
		l := r.last.Load()
		if end <= l || r.last.CompareAndSwap(l, end) {
			break
		}
	}
	for {
		m := r.maxNs.Load()
		if d <= m || r.maxNs.CompareAndSwap(m, d) {
			break
		}
	}
	if err != nil {
		r.errs.Add(1)
		r.mu.Lock()
		if len(r.samples) < maxErrorSamples {
			r.samples = append(r.samples, err.Error())
		}
		r.mu.Unlock()
	}
}

// quantile returns the q-quantile (0 < q <= 1) of the recorded durations.
func (r *recorder) quantile(q float64) time.Duration {
	n := r.count.Load()
	if n == 0 {
		return 0
	}
	target := int64(math.Ceil(q * float64(n)))
	var seen int64
	for b := range r.buckets {
		seen += r.buckets[b].Load()
		if seen >= max(target, 1) {
			return time.Duration(min(bucketValue(b), r.maxNs.Load()))
		}
	}
	return time.Duration(r.maxNs.Load())
}

// stats summarizes the calls recorded so far.
func (r *recorder) stats() CallStats {
	s := CallStats{
		Count:  int(r.count.Load()),
		Errors: int(r.errs.Load()),
		P50:    r.quantile(0.50),
		P99:    r.quantile(0.99),
		Max:    time.Duration(r.maxNs.Load()),
	}
	if s.Count > 0 {
		s.Span = time.Duration(r.last.Load() - r.first.Load())
	}
	r.mu.Lock()
	s.ErrorSamples = append([]string(nil), r.samples...)
	r.mu.Unlock()
	return s
}
