// Package redisstore is the queuepass.Store on Redis, for any number of
// stateless QueuePass nodes sharing one Redis deployment: a single Redis, a
// replicated one, or Redis Cluster. It uses github.com/redis/rueidis.
//
// # Layout
//
// Every key of one event carries the event's hash tag, so an event lives in
// one slot and the same scripts run on a single Redis and on a cluster
// (P is the key prefix, "" unless WithKeyPrefix is given):
//
//	P qp:{id}:m  hash: the event's settings, Version, Counts, Sold, Codes, DrawnAt, ticket and slot counters, AdmitPaced's mark
//	P qp:{id}:t:B  hashes: ticket number → packed record (see below), 64 tickets per bucket B = number/64
//	P qp:{id}:l  sorted set: waiting ticket numbers scored by line slot; rank = position-1
//	P qp:{id}:p  sorted set: prequeue ticket numbers scored by number (join order)
//	P qp:{id}:u:B  hashes: user ID → number of the user's live ticket, 8192 buckets B by a hash of the user ID
//	P qp:{id}:a  sorted set: admitted ticket numbers scored by PassExpiresAt (µs)
//	P qp:{id}:r  list: the RecentAdmissions, "at:count:median wait"
//	P qp:{id}:s  hash: ticket number → when its holder was last seen (µs, Store.Touch); prequeue and waiting tickets
//	P qp:{id}:c  hash: access code → "uses:used"
//	P qp:{id}:ci  sorted set: the access codes, all scored 0, listed in byte order with ZRANGEBYLEX
//	P qp:{id}:ch  sorted set: spent challenges scored by JoinProof.ChallengeExpires (µs, at least the join's time); joins purge those expired
//	P qp:{id}:d  string: the draw, the DrawHash of each pre-queue ticket in draw order, 32 bytes each
//
// and the pub/sub channel P qp:{id}:w, on which every script that changes
// the event publishes (SPUBLISH, a shard channel, on a cluster) for Watch,
// and a few global keys: P qp:events (sorted set of event IDs scored by
// creation sequence), P qp:seq (that sequence), the idempotency records
// under their own hash tag, P qp:{_idem}:r (hash) and P qp:{_idem}:t (sorted
// set by creation time), and the token buckets of TakeToken, each a key of
// its own so that they spread over a cluster's slots: P qp:rl:{key} (the
// bucket's mark in µs, expiring when the bucket is full again; '%', '{' and
// '}' in key percent-encoded).
//
// The buckets keep each hash small enough for Redis' compact listpack
// encoding, which makes a waiting ticket cost about 220 bytes of Redis
// memory instead of about 300 with one big hash each. A join stores
// nothing more per ticket for an event that asks no proof. Scripts name
// bucket keys and the keys s, c, ci, ch and d themselves rather than in
// KEYS; they share the event's hash tag, so they are in the slot of the
// keys that are declared, which Redis Cluster accepts.
//
// A ticket record is one hash field holding status (1 byte) ‖ secret (16
// bytes) ‖ "joined,admitted,expires,ended,user", times in Unix
// microseconds ("" for none). Prequeue and waiting tickets are stored with
// status "q" and told apart by membership of the line; the first closing of
// an event closes its whole line in O(1) by recording "closed below number
// N" in the event hash, with the time and the status byte of its
// StateReason (x, or s for sold out), like the embedded store.
//
// # Atomicity and round trips
//
// Every state change of an event (join with the proof it spends, leave,
// admit with pass expiry, paced admit, complete, expire, update with its
// effects, adding access codes, delete) is one Lua script call on the
// event's slot, and so is every token taken: one round trip, atomic. Two
// steps touch global keys too and take two or three calls, each safe if
// interrupted:
//
//   - CreateEvent takes a sequence number (INCR), creates the event (script),
//     then indexes it (ZADD GT). Interrupted before the index write, the
//     event exists but is not listed; retrying CreateEvent, which then fails
//     with ErrEventExists, repairs the index.
//   - DeleteEvent deletes the event (script), then removes its index entry
//     if it still has the deleted event's sequence. Interrupted in between,
//     the stale entry is skipped by Events (entries whose event is missing or
//     has another sequence are ignored) and replaced by a later CreateEvent.
//
// Opening a scheduled event with a pre-queue takes two calls: the update
// script refuses and returns the pre-queue; Go computes queuepass.DrawOrder
// and the draw's hashes (which Lua cannot) and calls the script again with
// them, which it applies and records only if the Version is still the same
// and every ticket drawn is still in the pre-queue, else Go retries. The
// opening begins with the first call: tickets that join the pre-queue
// between the two (joins keep coming while a large pre-queue is drawn)
// joined after it, so they follow the drawn ones in the order they joined
// and are not in the draw, rather than forcing a retry each. Opening an
// empty pre-queue records its (empty) draw in the first call.
//
// Times on tickets are kept to the microsecond, event times (OpensAt,
// ClosesAt, CreatedAt) and PassTTL exactly.
//
// Durability is Redis': a call that returns without error is as durable as
// Redis' persistence (AOF, appendfsync) and replication settings make it.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/queuepass/queuepass"
)

var _ queuepass.Store = (*Store)(nil)

// DefaultTimeout bounds every call to Redis unless WithTimeout says
// otherwise.
const DefaultTimeout = 5 * time.Second

// Store is the Redis store. Make one with Open; all its methods are safe for
// concurrent use, also by many processes sharing one Redis.
type Store struct {
	client  rueidis.Client
	prefix  string
	timeout time.Duration
	scripts scripts
	cluster bool // SPUBLISH/SSUBSCRIBE instead of PUBLISH/SUBSCRIBE
	hub     hub  // Watch's subscriptions

	closed    atomic.Bool
	closeOnce sync.Once

	// betweenDrawSteps, when set (by tests), runs between the two calls of
	// an opening, after the draw is computed.
	betweenDrawSteps func()
}

// Option configures Open.
type Option func(*options)

type options struct {
	prefix  string
	timeout time.Duration
}

// WithKeyPrefix puts prefix in front of every key the store uses, so that
// several stores (or tests) share one Redis without sharing data. The prefix
// must not contain '{' or '}', which would break the keys' hash tags.
func WithKeyPrefix(prefix string) Option {
	return func(o *options) { o.prefix = prefix }
}

// WithTimeout bounds every call to Redis, including connecting; the
// default is DefaultTimeout. A call whose context ends sooner ends sooner.
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// Open connects to the Redis at url: redis://[user:password@]host:port/db,
// or rediss:// for TLS. A cluster node's address makes a cluster client
// (db must then be 0). It fails, wrapping queuepass.ErrUnavailable, if Redis
// cannot be reached before ctx ends or the timeout passes, and with another
// error if url or an option is invalid.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	o := options{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if strings.ContainsAny(o.prefix, "{}") {
		return nil, fmt.Errorf("redisstore: key prefix %q must not contain '{' or '}'", o.prefix)
	}
	if o.timeout <= 0 {
		return nil, fmt.Errorf("redisstore: timeout %v must be positive", o.timeout)
	}
	if !strings.HasPrefix(url, "redis://") && !strings.HasPrefix(url, "rediss://") {
		return nil, fmt.Errorf("redisstore: URL %q: want redis:// or rediss://", redact(url))
	}
	copt, err := rueidis.ParseURL(url)
	if err != nil {
		// The parse error quotes the URL, password and all: say less.
		return nil, fmt.Errorf("redisstore: URL %q does not parse (percent-encode special characters in the password)", redact(url))
	}
	copt.DisableCache = true
	copt.Dialer.Timeout = o.timeout
	copt.ConnWriteTimeout = o.timeout
	client, err := rueidis.NewClient(copt)
	if err != nil {
		return nil, fmt.Errorf("redisstore: connect to %s: %w: %w", redact(url), queuepass.ErrUnavailable, err)
	}
	cluster := client.Mode() == rueidis.ClientModeCluster
	publish := "PUBLISH"
	if cluster {
		publish = "SPUBLISH"
	}
	s := &Store{client: client, prefix: o.prefix, timeout: o.timeout, scripts: newScripts(publish), cluster: cluster}
	if err := s.Ping(ctx); err != nil {
		client.Close()
		return nil, err
	}
	return s, nil
}

// redact hides the password in a Redis URL.
func redact(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return url
	}
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return scheme + "://" + user + ":xxxxx@" + host
	}
	return url
}

// Ping reports whether Redis answers (every master, on a cluster).
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	for _, node := range s.client.Nodes() {
		if err := node.Do(ctx, node.B().Ping().Build()).Error(); err != nil {
			return unavailable("ping", err)
		}
	}
	return nil
}

// Close releases the connections. Calls after Close fail with
// queuepass.ErrUnavailable; closing twice is harmless.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.hub.close()
		s.client.Close()
	})
	return nil
}

// begin checks that the store is open and bounds ctx by the timeout.
func (s *Store) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if s.closed.Load() {
		return nil, nil, fmt.Errorf("redisstore: %w: store is closed", queuepass.ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	return ctx, cancel, nil
}

// unavailable wraps an error from Redis or the connection.
//
// An error reply that no retry can cure (a script error, WRONGTYPE: a bug or
// foreign data under the store's keys) is not unavailability: it comes back
// unwrapped, to be logged and answered as an internal error.
func unavailable(op string, err error) error {
	if re, ok := rueidis.IsRedisErr(err); ok && !transient(re) {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return fmt.Errorf("redisstore: %s: %w: %w", op, queuepass.ErrUnavailable, err)
}

// transient reports whether a Redis error reply may go away by itself: a
// server loading its data, a cluster reconfiguring or failing over.
func transient(re *rueidis.RedisError) bool {
	if re.IsLoading() || re.IsClusterDown() || re.IsTryAgain() {
		return true
	}
	if _, ok := re.IsRedirect(); ok {
		return true
	}
	msg := re.Error()
	for _, p := range []string{"READONLY", "MASTERDOWN", "BUSY", "NOREPLICAS", "NOSCRIPT", "OOM"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// Result codes of the scripts (the first element of every reply).
const (
	codeOK = iota
	codeEventNotFound
	codeEventClosed
	codeEventNotOpen
	codeTicketNotFound
	codeTicketNotWaiting
	codeTicketNotAdmitted
	codeConflict
	codeEventExists
	codeNeedDraw
	codeRetry
	codeChallengeRequired
	codeChallengeFailed
	codeAccessDenied
	codeCodeExists
	codeCodeNotFound
)

// codeErr returns the error for a script result code, nil for codeOK.
func codeErr(code int64, eventID string) error {
	var err error
	switch code {
	case codeOK:
		return nil
	case codeEventNotFound:
		err = queuepass.ErrEventNotFound
	case codeEventClosed:
		err = queuepass.ErrEventClosed
	case codeEventNotOpen:
		err = queuepass.ErrEventNotOpen
	case codeTicketNotFound:
		err = queuepass.ErrTicketNotFound
	case codeTicketNotWaiting:
		err = queuepass.ErrTicketNotWaiting
	case codeTicketNotAdmitted:
		err = queuepass.ErrTicketNotAdmitted
	case codeConflict:
		err = queuepass.ErrConflict
	case codeEventExists:
		err = queuepass.ErrEventExists
	case codeChallengeRequired:
		err = queuepass.ErrChallengeRequired
	case codeChallengeFailed:
		err = queuepass.ErrChallengeFailed
	case codeAccessDenied:
		err = queuepass.ErrAccessDenied
	case codeCodeNotFound:
		err = queuepass.ErrCodeNotFound
	default:
		return fmt.Errorf("redisstore: unexpected script result %d", code)
	}
	return fmt.Errorf("redisstore: %w: %q", err, eventID)
}

// eventKeys returns the keys of one event, in the order the event scripts
// expect them (KEYS[1..7]).
func (s *Store) eventKeys(id string) []string {
	base := s.prefix + "qp:{" + id + "}:"
	return []string{base + "m", base + "t", base + "l", base + "p", base + "u", base + "a", base + "r"}
}

func (s *Store) indexKey() string { return s.prefix + "qp:events" }
func (s *Store) seqKey() string   { return s.prefix + "qp:seq" }
func (s *Store) idemKeys() []string {
	// "_" cannot appear in an event ID, so no event's keys can collide.
	return []string{s.prefix + "qp:{_idem}:r", s.prefix + "qp:{_idem}:t"}
}

// eval runs a script and returns its reply, whose first element is a result
// code. Errors from Redis wrap queuepass.ErrUnavailable.
func (s *Store) eval(ctx context.Context, op string, sc *rueidis.Lua, keys []string, args ...string) (int64, []rueidis.RedisMessage, error) {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return 0, nil, err
	}
	defer cancel()
	reply, err := sc.Exec(ctx, s.client, keys, args).ToArray()
	if err != nil {
		return 0, nil, unavailable(op, err)
	}
	if len(reply) == 0 {
		return 0, nil, fmt.Errorf("redisstore: %s: empty script reply", op)
	}
	code, err := reply[0].ToInt64()
	if err != nil {
		return 0, nil, fmt.Errorf("redisstore: %s: bad script reply: %w", op, err)
	}
	return code, reply[1:], nil
}

// micros encodes a time as Unix microseconds for the scripts.
func micros(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

// parseMicros decodes what micros made; "" is the zero time.
func parseMicros(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	us, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time %q: %w", s, err)
	}
	return time.UnixMicro(us).UTC(), nil
}

// errCorrupt reports data in Redis that the store cannot read.
var errCorrupt = errors.New("redisstore: corrupt data")
