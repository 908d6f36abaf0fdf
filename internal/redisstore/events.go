package redisstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/queuepass/queuepass"
)

// maxDrawRetries bounds how often UpdateEvent recomputes the draw of a
// pre-queue that changed while it was computing.
const maxDrawRetries = 20

// CreateEvent stores a new event with Version 1. It takes three calls
// (sequence, event, index); see the package doc for how an interrupted
// creation is repaired.
func (s *Store) CreateEvent(ctx context.Context, ev queuepass.Event) (queuepass.Event, error) {
	if ev.ID == "" {
		return queuepass.Event{}, errors.New("redisstore: CreateEvent: empty event ID")
	}
	if err := checkReason(ev); err != nil {
		return queuepass.Event{}, err
	}
	seq, err := s.nextSeq(ctx)
	if err != nil {
		return queuepass.Event{}, err
	}
	args := append([]string{strconv.FormatInt(seq, 10)}, settingsArgs(ev)...)
	args = append(args, "created", timeText(ev.CreatedAt), "seed", string(ev.DrawSeed[:]))
	code, reply, err := s.eval(ctx, "create event", s.scripts.create, s.eventKeys(ev.ID), args...)
	if err != nil {
		return queuepass.Event{}, err
	}
	if code == codeEventExists {
		// Repair an index entry that an interrupted creation never wrote.
		if stored, err := reply[0].AsInt64(); err == nil {
			s.index(ctx, ev.ID, stored)
		}
		return queuepass.Event{}, codeErr(code, ev.ID)
	}
	if err := codeErr(code, ev.ID); err != nil {
		return queuepass.Event{}, err
	}
	if err := s.index(ctx, ev.ID, seq); err != nil {
		return queuepass.Event{}, err
	}
	return parseEvent(ev.ID, reply)
}

// nextSeq returns the next event creation sequence number.
func (s *Store) nextSeq(ctx context.Context) (int64, error) {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	seq, err := s.client.Do(ctx, s.client.B().Incr().Key(s.seqKey()).Build()).AsInt64()
	if err != nil {
		return 0, unavailable("create event", err)
	}
	return seq, nil
}

// index lists the event under seq; ZADD GT never moves an entry back to an
// older creation.
func (s *Store) index(ctx context.Context, id string, seq int64) error {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	cmd := s.client.B().Zadd().Key(s.indexKey()).Gt().ScoreMember().ScoreMember(float64(seq), id).Build()
	if err := s.client.Do(ctx, cmd).Error(); err != nil {
		return unavailable("index event", err)
	}
	return nil
}

// Event returns the event with its current Counts and RecentAdmissions.
func (s *Store) Event(ctx context.Context, id string) (queuepass.Event, error) {
	ev, _, err := s.event(ctx, id)
	return ev, err
}

// event returns the event and its creation sequence.
func (s *Store) event(ctx context.Context, id string) (queuepass.Event, int64, error) {
	if id == "" {
		return queuepass.Event{}, 0, fmt.Errorf("redisstore: %w: %q", queuepass.ErrEventNotFound, id)
	}
	code, reply, err := s.eval(ctx, "read event", s.scripts.read, s.eventKeys(id))
	if err != nil {
		return queuepass.Event{}, 0, err
	}
	if err := codeErr(code, id); err != nil {
		return queuepass.Event{}, 0, err
	}
	ev, err := parseEvent(id, reply)
	if err != nil {
		return queuepass.Event{}, 0, err
	}
	fields, _ := reply[0].AsStrMap()
	seq, err := strconv.ParseInt(fields["seq"], 10, 64)
	if err != nil {
		return queuepass.Event{}, 0, fmt.Errorf("%w: event %q: seq: %w", errCorrupt, id, err)
	}
	return ev, seq, nil
}

// Events returns at most limit events in creation order after the event
// after. Index entries whose event is gone or was made again under a newer
// sequence are skipped.
func (s *Store) Events(ctx context.Context, after string, limit int) ([]queuepass.Event, error) {
	var from int64
	if after != "" {
		_, seq, err := s.event(ctx, after)
		if err != nil {
			return nil, err
		}
		from = seq
	}
	var out []queuepass.Event
	for len(out) < limit {
		want := limit - len(out)
		page, err := s.indexPage(ctx, from, want)
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			from = e.seq
			ev, seq, err := s.event(ctx, e.id)
			switch {
			case errors.Is(err, queuepass.ErrEventNotFound):
				continue
			case err != nil:
				return nil, err
			case seq != e.seq:
				continue
			}
			out = append(out, ev)
		}
		if len(page) < want {
			break
		}
	}
	return out, nil
}

type indexEntry struct {
	id  string
	seq int64
}

// indexPage returns up to n index entries with a sequence above from.
func (s *Store) indexPage(ctx context.Context, from int64, n int) ([]indexEntry, error) {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	cmd := s.client.B().Zrangebyscore().Key(s.indexKey()).
		Min("("+strconv.FormatInt(from, 10)).Max("+inf").Withscores().Limit(0, int64(n)).Build()
	zs, err := s.client.Do(ctx, cmd).AsZScores()
	if err != nil {
		return nil, unavailable("list events", err)
	}
	out := make([]indexEntry, len(zs))
	for i, z := range zs {
		out[i] = indexEntry{z.Member, int64(z.Score)}
	}
	return out, nil
}

// UpdateEvent replaces the event's settings if its Version is still
// ev.Version, with the effects of the state change, in one script call;
// opening a scheduled event with a pre-queue takes one more (see the
// package doc).
func (s *Store) UpdateEvent(ctx context.Context, ev queuepass.Event, at time.Time) (queuepass.Event, error) {
	if ev.ID == "" {
		return queuepass.Event{}, fmt.Errorf("redisstore: %w: %q", queuepass.ErrEventNotFound, ev.ID)
	}
	if err := checkReason(ev); err != nil {
		return queuepass.Event{}, err
	}
	settings := settingsArgs(ev)
	base := append([]string{strconv.FormatUint(ev.Version, 10), micros(at), "0", strconv.Itoa(len(settings))}, settings...)
	keys := s.eventKeys(ev.ID)
	args := base
	for range maxDrawRetries {
		code, reply, err := s.eval(ctx, "update event", s.scripts.update, keys, args...)
		if err != nil {
			return queuepass.Event{}, err
		}
		switch code {
		case codeNeedDraw:
			order, hashes, err := drawOrder(reply)
			if err != nil {
				return queuepass.Event{}, fmt.Errorf("redisstore: event %q: %w", ev.ID, err)
			}
			args = append(append(slices.Clone(base), hashes), order...)
			args[2] = "1"
			if s.betweenDrawSteps != nil {
				s.betweenDrawSteps()
			}
			continue
		case codeRetry:
			args = base
			continue
		}
		if err := codeErr(code, ev.ID); err != nil {
			return queuepass.Event{}, err
		}
		return parseEvent(ev.ID, reply)
	}
	return queuepass.Event{}, fmt.Errorf("redisstore: %w: the pre-queue of %q kept changing while it was drawn", queuepass.ErrUnavailable, ev.ID)
}

// drawOrder turns the reply of a refused opening (seed, then number and
// secret of each prequeue ticket in order of joining) into the numbers in
// draw order (queuepass.DrawPermutation, the order queuepass.DrawOrder
// gives) and their DrawHashes in that order, concatenated.
func drawOrder(reply []rueidis.RedisMessage) (order []string, hashes string, err error) {
	if len(reply)%2 != 1 {
		return nil, "", fmt.Errorf("%w: pre-queue reply of %d elements", errCorrupt, len(reply))
	}
	seedStr, err := reply[0].ToString()
	if err != nil || len(seedStr) != 32 {
		return nil, "", fmt.Errorf("%w: draw seed", errCorrupt)
	}
	var seed [32]byte
	copy(seed[:], seedStr)
	n := len(reply) / 2
	numbers := make([]string, n)
	sums := make([][sha256.Size]byte, n)
	for i := range n {
		num, err1 := reply[1+2*i].ToString()
		sec, err2 := reply[2+2*i].ToString()
		number, err3 := strconv.ParseUint(num, 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || len(sec) != queuepass.TicketSecretSize {
			return nil, "", fmt.Errorf("%w: pre-queue ticket %q", errCorrupt, num)
		}
		var secret [queuepass.TicketSecretSize]byte
		copy(secret[:], sec)
		numbers[i], sums[i] = num, queuepass.DrawHash(queuepass.NewTicketID(number, secret))
	}
	order = make([]string, n)
	b := make([]byte, 0, n*sha256.Size)
	for k, i := range queuepass.DrawPermutation(seed, sums) {
		order[k] = numbers[i]
		b = append(b, sums[i][:]...)
	}
	return order, string(b), nil
}

// Draw returns the DrawHashes recorded when the event left scheduled, in
// one script call: nil before (or without) a draw, none for an empty
// pre-queue.
func (s *Store) Draw(ctx context.Context, eventID string) ([][32]byte, error) {
	if eventID == "" {
		return nil, fmt.Errorf("redisstore: %w: %q", queuepass.ErrEventNotFound, eventID)
	}
	code, reply, err := s.eval(ctx, "draw", s.scripts.draw, s.eventKeys(eventID))
	if err != nil {
		return nil, err
	}
	if err := codeErr(code, eventID); err != nil {
		return nil, err
	}
	if len(reply) != 2 {
		return nil, fmt.Errorf("%w: draw reply of %d elements", errCorrupt, len(reply))
	}
	drawnAt, err1 := reply[0].ToString()
	b, err2 := reply[1].ToString()
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("%w: draw reply: %w", errCorrupt, err)
	}
	if drawnAt == "" {
		return nil, nil
	}
	if len(b)%sha256.Size != 0 {
		return nil, fmt.Errorf("%w: draw of event %q: %d bytes", errCorrupt, eventID, len(b))
	}
	draw := make([][32]byte, len(b)/sha256.Size)
	for i := range draw {
		copy(draw[i][:], b[i*sha256.Size:])
	}
	return draw, nil
}

// DeleteEvent removes the event and its tickets (one script), then its
// index entry.
func (s *Store) DeleteEvent(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("redisstore: %w: %q", queuepass.ErrEventNotFound, id)
	}
	code, reply, err := s.eval(ctx, "delete event", s.scripts.del, s.eventKeys(id))
	if err != nil {
		return err
	}
	if err := codeErr(code, id); err != nil {
		return err
	}
	seq, err := reply[0].ToString()
	if err != nil {
		return fmt.Errorf("%w: event %q: seq", errCorrupt, id)
	}
	_, _, err = s.eval(ctx, "unindex event", s.scripts.unindex, []string{s.indexKey()}, id, seq)
	return err
}

// settingsArgs encodes the settings that UpdateEvent may change as field,
// value pairs of the event hash.
func settingsArgs(ev queuepass.Event) []string {
	return []string{
		"state", string(ev.State),
		"reason", string(ev.StateReason),
		"name", ev.Name,
		"opens", timeText(ev.OpensAt),
		"closes", timeText(ev.ClosesAt),
		"rate", strconv.Itoa(ev.AdmitRatePerMinute),
		"maxact", strconv.Itoa(ev.MaxActive),
		"ttl", strconv.FormatInt(int64(ev.PassTTL), 10),
		"ttlus", strconv.FormatInt(ev.PassTTL.Microseconds(), 10),
		"idle", strconv.FormatInt(ev.IdleTimeout.Microseconds(), 10),
		"diff", strconv.Itoa(ev.ChallengeDifficulty),
		"access", string(ev.Access),
		"inv", strconv.Itoa(ev.Inventory),
	}
}

// checkReason refuses a StateReason that the store could not give the
// tickets a closing closes: their records know "" and ReasonSoldOut only,
// the reasons defined for an event.
func checkReason(ev queuepass.Event) error {
	if ev.StateReason != "" && ev.StateReason != queuepass.ReasonSoldOut {
		return fmt.Errorf("redisstore: event %q: state reason %q is not defined", ev.ID, ev.StateReason)
	}
	return nil
}

// timeText encodes an event time exactly; "" is the zero time.
func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	b, err := t.UTC().MarshalText()
	if err != nil { // a year outside [0, 9999]
		return ""
	}
	return string(b)
}

func parseTimeText(s string) (time.Time, error) {
	var t time.Time
	if s == "" {
		return t, nil
	}
	err := t.UnmarshalText([]byte(s))
	return t.UTC(), err
}

// parseEvent decodes the reply of event_reply (the event hash and the
// recent admissions).
func parseEvent(id string, reply []rueidis.RedisMessage) (queuepass.Event, error) {
	bad := func(what string, err error) (queuepass.Event, error) {
		return queuepass.Event{}, fmt.Errorf("%w: event %q: %s: %v", errCorrupt, id, what, err)
	}
	if len(reply) != 2 {
		return bad("reply", fmt.Errorf("%d elements", len(reply)))
	}
	f, err := reply[0].AsStrMap()
	if err != nil {
		return bad("fields", err)
	}
	ev := queuepass.Event{
		ID:          id,
		Name:        f["name"],
		State:       queuepass.EventState(f["state"]),
		StateReason: queuepass.StatusReason(f["reason"]),
		Access:      queuepass.Access(f["access"]),
	}
	var errs []error
	atoi := func(k string) int {
		n, err := strconv.Atoi(f[k])
		errs = append(errs, err)
		return n
	}
	ev.AdmitRatePerMinute = atoi("rate")
	ev.MaxActive = atoi("maxact")
	ttl, err := strconv.ParseInt(f["ttl"], 10, 64)
	errs = append(errs, err)
	ev.PassTTL = time.Duration(ttl)
	// Fields added later are absent from older events: they read as 0.
	optional := func(k string) int64 {
		if f[k] == "" {
			return 0
		}
		n, err := strconv.ParseInt(f[k], 10, 64)
		errs = append(errs, err)
		return n
	}
	ev.IdleTimeout = time.Duration(optional("idle")) * time.Microsecond
	ev.Abandoned = int(optional("cab"))
	ev.ChallengeDifficulty = int(optional("diff"))
	ev.Inventory = int(optional("inv"))
	ev.Sold = int(optional("sold"))
	ev.Codes = queuepass.CodeCounts{Codes: int(optional("codes")), Uses: int(optional("uses")), Used: int(optional("used"))}
	ev.DrawnAt, err = parseMicros(f["drawn"])
	errs = append(errs, err)
	ver, err := strconv.ParseUint(f["ver"], 10, 64)
	errs = append(errs, err)
	ev.Version = ver
	for k, dst := range map[string]*time.Time{"opens": &ev.OpensAt, "closes": &ev.ClosesAt, "created": &ev.CreatedAt} {
		*dst, err = parseTimeText(f[k])
		errs = append(errs, err)
	}
	copy(ev.DrawSeed[:], f["seed"])
	ev.Counts = queuepass.Counts{
		Prequeue:  atoi("cp"),
		Waiting:   atoi("cw"),
		Admitted:  atoi("ca"),
		Completed: atoi("cc"),
		Left:      atoi("cl"),
		Expired:   atoi("ce"),
		Closed:    atoi("cx"),
	}
	if err := errors.Join(errs...); err != nil {
		return bad("fields", err)
	}
	batches, err := reply[1].AsStrSlice()
	if err != nil {
		return bad("recent admissions", err)
	}
	for _, b := range batches {
		// at:count, and since batches keep it, :median wait (µs).
		atStr, rest, _ := strings.Cut(b, ":")
		countStr, medianStr, hasMedian := strings.Cut(rest, ":")
		when, err1 := parseMicros(atStr)
		count, err2 := strconv.Atoi(countStr)
		var median int64
		var err3 error
		if hasMedian {
			median, err3 = strconv.ParseInt(medianStr, 10, 64)
		}
		if err := errors.Join(err1, err2, err3); err != nil {
			return bad("recent admissions", err)
		}
		ev.RecentAdmissions = append(ev.RecentAdmissions, queuepass.AdmissionBatch{
			At: when, Count: count, MedianWait: time.Duration(median) * time.Microsecond,
		})
	}
	return ev, nil
}
