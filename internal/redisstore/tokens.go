package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/queuepass/queuepass"
)

// TakeToken takes a token from the bucket key in one script call on the
// bucket's own key, P qp:rl:{key}, so that buckets spread over a cluster's
// slots. The key holds the bucket's mark and expires once the bucket is
// full again.
func (s *Store) TakeToken(ctx context.Context, key string, interval time.Duration, burst int, at time.Time) (bool, time.Duration, error) {
	// Clamped as queuepass.TakeToken clamps them, which keeps every value
	// of the script's arithmetic below 2^53.
	i := min(max(interval.Microseconds(), 1), queuepass.MaxTokenInterval.Microseconds())
	tolerance := int64(min(max(burst, 1), queuepass.MaxTokenBurst)-1) * i
	_, reply, err := s.eval(ctx, "take token", s.scripts.take, []string{s.tokenKey(key)},
		micros(at), strconv.FormatInt(i, 10), strconv.FormatInt(tolerance, 10))
	if err != nil {
		return false, 0, err
	}
	if len(reply) != 2 {
		return false, 0, fmt.Errorf("%w: take token reply of %d elements", errCorrupt, len(reply))
	}
	ok, err1 := reply[0].AsInt64()
	retry, err2 := reply[1].AsInt64()
	if err1 != nil || err2 != nil {
		return false, 0, fmt.Errorf("%w: take token reply", errCorrupt)
	}
	return ok == 1, time.Duration(retry) * time.Microsecond, nil
}

// tokenKey is the Redis key of the token bucket key. Braces in key are
// percent-encoded (and so is %), so that the hash tag is the whole name,
// whatever it holds, and distinct names keep distinct keys.
func (s *Store) tokenKey(key string) string {
	if strings.ContainsAny(key, "%{}") {
		key = strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D").Replace(key)
	}
	return s.prefix + "qp:rl:{" + key + "}"
}
