package queuepass

import "time"

// Limits of a token bucket (Store.TakeToken), which keep every value of
// TakeToken's arithmetic below 2^53, so that Lua's doubles compute it
// exactly too.
const (
	MaxTokenInterval = time.Hour
	MaxTokenBurst    = 100_000
)

// TakeToken is the arithmetic of Store.TakeToken, the generic cell rate
// algorithm: a bucket is one mark M, its theoretical arrival time in whole
// microseconds since the Unix epoch (0 for a new bucket, which is full).
// With T = at, I = interval and the tolerance τ = (burst−1)·I, all in
// microseconds:
//
//	m = max(M, T)
//	if m − T > τ: refused, retry after m − τ − T; M stays
//	else:         taken; M = m + I
//
// So burst tokens can be taken at once, then one every interval. Once
// T ≥ M the bucket is full again and its mark can be forgotten. interval
// is at least a microsecond and at most MaxTokenInterval; burst is 1 to
// MaxTokenBurst (values outside are clamped).
func TakeToken(mark int64, at time.Time, interval time.Duration, burst int) (newMark int64, ok bool, retryAfter time.Duration) {
	i := min(max(interval.Microseconds(), 1), MaxTokenInterval.Microseconds())
	tolerance := int64(min(max(burst, 1), MaxTokenBurst)-1) * i
	t := at.UnixMicro()
	m := max(mark, t)
	if m-t > tolerance {
		return mark, false, time.Duration(m-tolerance-t) * time.Microsecond
	}
	return m + i, true, 0
}
