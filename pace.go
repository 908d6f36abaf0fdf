package queuepass

import "time"

// paceMinute is a minute in microseconds, the unit of pacing marks.
const paceMinute = 60_000_000

// PaceCredit is the first half of the AdmitPaced arithmetic (see Store):
// given an event's pacing mark (microseconds since the Unix epoch, 0 at
// first), the time and the rate, it returns the mark moved up to at most
// one burst before at, and how many tickets have been earned since it. A
// rate below 1 earns nothing and leaves the mark alone.
func PaceCredit(mark int64, at time.Time, perMinute int) (newMark int64, credit int) {
	if perMinute < 1 {
		return mark, 0
	}
	p := int64(perMinute)
	t := at.UnixMicro()
	burst := 1_000_000 + (paceMinute+p-1)/p
	mark = max(mark, t-burst)
	if t <= mark {
		return mark, 0
	}
	return mark, int((t - mark) * p / paceMinute)
}

// PaceSpend is the second half: the mark after admitting k tickets.
func PaceSpend(mark int64, k, perMinute int) int64 {
	if perMinute < 1 || k <= 0 {
		return mark
	}
	p := int64(perMinute)
	return mark + (int64(k)*paceMinute+p-1)/p
}
