package waitroom

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/queuepass/queuepass"
)

// LimitClass names a kind of call that is rate-limited per client.
type LimitClass string

// The classes of rate-limited calls.
const (
	LimitJoin      LimitClass = "join"      // joins
	LimitChallenge LimitClass = "challenge" // proof-of-work challenges
	LimitRead      LimitClass = "read"      // reads of events, tickets, streams and draws
)

// Limit is a token bucket: Burst calls at once, then one every Interval.
// The zero Limit limits nothing.
type Limit struct {
	Interval time.Duration
	Burst    int
}

// Limits are the rate limits per client of each class; a class without
// one is not limited.
type Limits map[LimitClass]Limit

// ParseLimit reads a limit such as "5/s" (5 a second, a burst of 5),
// "120/m:20" (two a second, a burst of 20), "1/h" or "off" (none). The
// burst defaults to the rate per unit (at most queuepass.MaxTokenBurst).
func ParseLimit(s string) (Limit, error) {
	if s == "" || s == "off" {
		return Limit{}, nil
	}
	spec, burstStr, hasBurst := strings.Cut(s, ":")
	countStr, unitStr, ok := strings.Cut(spec, "/")
	count, err := strconv.Atoi(countStr)
	var unit time.Duration
	switch unitStr {
	case "s":
		unit = time.Second
	case "m":
		unit = time.Minute
	case "h":
		unit = time.Hour
	}
	if !ok || err != nil || count < 1 || unit == 0 {
		return Limit{}, fmt.Errorf("rate limit %q: want N/s, N/m or N/h with N ≥ 1, an optional :BURST, or off", s)
	}
	l := Limit{Interval: unit / time.Duration(count), Burst: min(count, queuepass.MaxTokenBurst)}
	if hasBurst {
		if l.Burst, err = strconv.Atoi(burstStr); err != nil || l.Burst < 1 {
			return Limit{}, fmt.Errorf("rate limit %q: the burst must be a whole number ≥ 1", s)
		}
	}
	if l.Interval < time.Microsecond || l.Interval > queuepass.MaxTokenInterval || l.Burst > queuepass.MaxTokenBurst {
		return Limit{}, fmt.Errorf("rate limit %q: between 1/h and 1000000/s, with a burst of at most %d", s, queuepass.MaxTokenBurst)
	}
	return l, nil
}

// String formats l as ParseLimit reads it.
func (l Limit) String() string {
	if l.Interval <= 0 {
		return "off"
	}
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Second, "s"}, {time.Minute, "m"}, {time.Hour, "h"}} {
		if u.d%l.Interval == 0 {
			return fmt.Sprintf("%d/%s:%d", u.d/l.Interval, u.name, l.Burst)
		}
	}
	return fmt.Sprintf("%d/h:%d", time.Hour/l.Interval, l.Burst)
}

// Allow takes one call of class from client's bucket (Store.TakeToken,
// shared by every node on the store). It fails with a
// *queuepass.RateLimitError saying when to try again once the bucket is
// empty, or with the store's error. A class without a limit always
// allows.
func (r *Room) Allow(ctx context.Context, class LimitClass, client string) error {
	l, ok := r.limits[class]
	if !ok || l.Interval <= 0 {
		return nil
	}
	ok, retry, err := r.store.TakeToken(ctx, string(class)+" "+client, l.Interval, l.Burst, r.Now())
	switch {
	case err != nil:
		return err
	case !ok:
		return &queuepass.RateLimitError{RetryAfter: retry}
	}
	return nil
}

// Limited reports whether calls of class are limited.
func (r *Room) Limited(class LimitClass) bool { return r.limits[class].Interval > 0 }
