// Package drop rehearses a ticket drop against running QueuePass servers
// and checks that they keep the API's promises under load. It is what
// `queuepass drop` runs.
//
// A rehearsal creates an event of its own (open, admissions by the admin
// only, unlimited capacity), makes every fan join at once, then admits the
// line in batches, and deletes the event at the end. Every call goes
// through package client, spread round-robin over the servers, so a
// rehearsal over several nodes sharing one Redis also checks that they
// agree.
//
// # What is checked, and how
//
// Joins. Every fan joins once; a share of them (RetryShare) send their join
// a second time, half at the same moment and half right after the first
// answer, to another server where there are several. All answers of one fan
// must name one ticket, of this fan, waiting; exactly one must have made it
// (201); and an attempt sent after an answer arrived must get the existing
// ticket (200). No ticket may be handed to two fans.
//
// Line order. The line is the order in which the store accepted the joins,
// which no client can see: concurrent joins are accepted in an order only
// the server knows, and the position a join answers with says nothing about
// fans whose joins were still in flight. What a client does know is real
// time. The store accepts a fan's join at some instant between the sending
// of its first attempt and the first answer to any attempt; the rehearsal
// records both instants on one monotonic clock. If fan A's join was
// answered before fan B's join was even sent, A was accepted first, is
// ahead of B in line, and must be admitted before B. Admission order is the
// order of tickets across the admission responses, which the rehearsal
// requests one after another and each of which lists its tickets in line
// order. An inversion is a pair (A, B) whose joins were ordered in real
// time but whose admissions were not. Pairs whose join intervals overlap
// were concurrent and may be admitted either way; they are not counted.
// All pairs are counted in O(n log n).
//
// Positions. Joins are over before the first admission, and between
// admissions every fan still waiting reads its ticket. Its position must
// never rise above the previous read (the first being the join's answer).
// More strictly, since nobody joins or leaves while fans read and reads
// never overlap an admission, a waiting ticket's position is exactly its
// place in the admission order, plus one, minus the tickets admitted so
// far: the place implied by every read and by the fan's admission must
// agree, or the read counts as a wrong position.
//
// Admissions. Every fan with a ticket must be named by exactly one
// admission, no admission may name a ticket that no fan holds, and a fan's
// ticket must read waiting until it is admitted and admitted after. Each
// admitted fan reads its pass and has it verified by the server for its
// event (valid, naming its ticket and user) and for another event (invalid,
// reason wrong_event). The pass is also checked on its own against the
// servers' JWKS when it can be fetched.
//
// Following. With Config.Rate (the event admits by itself at that steady
// rate) or Config.Stream (fans wait on server-sent update streams), fans
// follow their tickets on their own instead: each polls at its
// poll_after_seconds, or holds its stream, until it sees its admission,
// while admissions happen. Reads are then not ordered with admissions, so
// positions are checked only never to rise (across the join's answer, polls
// and stream updates). With the admin admitting, each batch follows once
// the fans of the previous one saw theirs, and every fan named by an
// admission must see it and no other; with Rate, nobody names the
// admissions, so line order is judged on the admitted_at seconds the fans
// see (pairs admitted within the same second are not counted).
//
// Estimates. Each fan's estimated_wait_seconds at its join is compared
// with the wait it really had (admitted_at − joined_at); the report gives
// the median and p90 absolute relative error. Manual batches give no
// estimate at join (nothing admitted yet); a Rate rehearsal does.
//
// Every call is timed, by kind (join, poll, stream, admit, verify): count, errors,
// throughput, and latency quantiles from a histogram of constant size, so
// that memory stays at about a hundred bytes per fan.
package drop

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/queuepass/queuepass/client"
)

// Defaults for the zero values of Config.
const (
	DefaultFans        = 10000
	DefaultConcurrency = 200
	DefaultBatch       = 500
	DefaultRetryShare  = 0.1
)

// Config describes a rehearsal.
type Config struct {
	Servers  []string // base URLs, e.g. http://127.0.0.1:8080; at least one
	AdminKey string

	Fans        int // fans that join; 0 means DefaultFans
	Concurrency int // fans joining or polling at once; 0 means DefaultConcurrency
	Batch       int // tickets per admission, 1..10000; 0 means DefaultBatch

	// RetryShare is the share of fans that send their join twice, half of
	// them concurrently and half right after the first answer. 0 means
	// DefaultRetryShare; a negative value means none.
	RetryShare float64

	// Progress receives progress as the rehearsal goes; nil shows none.
	// Interactive draws a bar redrawn in place (for a terminal) instead of
	// plain lines.
	Progress    io.Writer
	Interactive bool

	// HTTPClient sends every request; nil means one with timeouts that
	// keeps enough idle connections for Concurrency.
	HTTPClient *http.Client

	// KeepEvent leaves the rehearsal's event on the servers at the end.
	KeepEvent bool

	// Rate, when positive, makes a steady-rate rehearsal: the event is
	// created with admit_rate_per_minute Rate and admits by itself, the
	// admin admits nobody, and every fan follows its ticket until it is
	// admitted. Batch is then unused.
	Rate int

	// Stream makes fans wait on their ticket's stream of server-sent
	// updates instead of polling it. Every fan holds a stream, so the
	// servers (and this process) need a connection per fan.
	Stream bool
}

func (cfg Config) withDefaults() (Config, error) {
	if len(cfg.Servers) == 0 {
		return cfg, errors.New("drop: no server")
	}
	for _, s := range cfg.Servers {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return cfg, fmt.Errorf("drop: server %q is not an http(s) URL", s)
		}
	}
	if cfg.Fans == 0 {
		cfg.Fans = DefaultFans
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Batch == 0 {
		cfg.Batch = DefaultBatch
	}
	switch {
	case cfg.RetryShare == 0:
		cfg.RetryShare = DefaultRetryShare
	case cfg.RetryShare < 0:
		cfg.RetryShare = 0
	}
	switch {
	case cfg.Fans < 0 || cfg.Fans > math.MaxInt32/2:
		return cfg, fmt.Errorf("drop: fans %d out of range", cfg.Fans)
	case cfg.Concurrency < 0:
		return cfg, fmt.Errorf("drop: concurrency %d out of range", cfg.Concurrency)
	case cfg.Batch < 0 || cfg.Batch > 10000:
		return cfg, fmt.Errorf("drop: batch %d out of range 1..10000", cfg.Batch)
	case cfg.RetryShare > 1:
		return cfg, fmt.Errorf("drop: retry share %v above 1", cfg.RetryShare)
	case cfg.Rate < 0 || cfg.Rate > 1_000_000:
		return cfg, fmt.Errorf("drop: rate %d out of range 0..1000000", cfg.Rate)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = client.NewHTTPClient(2 * cfg.Concurrency)
	}
	return cfg, nil
}

// Run rehearses a drop as cfg describes and reports what it saw.
//
// Broken promises are counts in the Report, not errors. Run fails before
// the rehearsal when cfg is invalid, a server cannot be reached or does not
// accept the admin key, or the event cannot be created; and during it when
// ctx ends or an admission fails, returning the report so far along with
// the error. A failure to delete the event at the end is returned as well.
func Run(ctx context.Context, cfg Config) (rep *Report, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, start: time.Now(), prog: newProgress(cfg.Progress, cfg.Interactive)}
	for _, s := range cfg.Servers {
		r.clients = append(r.clients, client.New(s,
			client.WithHTTPClient(cfg.HTTPClient),
			client.WithAdminKey(cfg.AdminKey),
			client.WithUserAgent("queuepass-drop")))
	}
	if err := r.preflight(ctx); err != nil {
		return nil, err
	}

	ev, err := r.adminClient().CreateEvent(ctx, client.CreateEventParams{
		ID:                 "drop-" + strings.ToLower(rand.Text()[:12]), // rand.Text is base32: A-Z, 2-7
		Name:               "Drop rehearsal " + r.start.UTC().Format(time.RFC3339),
		AdmitRatePerMinute: cfg.Rate,
	})
	if err != nil {
		return nil, fmt.Errorf("drop: create event: %w", err)
	}
	r.eventID, r.origin = ev.ID, ev.CreatedAt
	if !cfg.KeepEvent {
		defer func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if derr := r.adminClient().DeleteEvent(dctx, r.eventID); derr != nil {
				err = errors.Join(err, fmt.Errorf("drop: delete event %s: %w", r.eventID, derr))
			}
		}()
	}

	r.rep = &Report{EventID: ev.ID, Servers: cfg.Servers, Fans: cfg.Fans, Rate: cfg.Rate, Streaming: cfg.Stream, Batch: cfg.Batch}
	r.checker = newChecker(cfg.Fans)
	r.checker.follow = cfg.Rate > 0 || cfg.Stream
	r.join, r.poll, r.admit, r.verify, r.stream = newRecorder(), newRecorder(), newRecorder(), newRecorder(), newRecorder()
	defer r.finish()

	r.loadKeys(ctx)
	r.joinAll(ctx)
	if err := ctx.Err(); err != nil {
		return r.rep, fmt.Errorf("drop: joins: %w", err)
	}
	r.checker.index()
	wait := r.admitAll
	if r.checker.follow {
		wait = r.followAll
	}
	if err := wait(ctx); err != nil {
		return r.rep, err
	}
	return r.rep, nil
}

// runner is one rehearsal.
type runner struct {
	cfg     Config
	clients []*client.Client
	start   time.Time
	prog    *progress
	eventID string
	origin  time.Time // the event's creation, by the server's clock
	keys    keySet    // nil: no local pass check

	adminCalls atomic.Uint64 // spreads admin calls over the servers
	pollCalls  atomic.Uint64 // spreads reads and verifications

	rep                       *Report
	checker                   *checker
	join, poll, admit, verify *recorder
	stream                    *recorder // from opening a stream to its first update
	streamRestarts            atomic.Int64
	wrongEventAccepted        atomic.Int64
	localFailures             atomic.Int64
}

// now is the time since the run started, on the monotonic clock.
func (r *runner) now() int64 { return int64(time.Since(r.start)) }

func (r *runner) adminClient() *client.Client {
	return r.clients[r.adminCalls.Add(1)%uint64(len(r.clients))]
}

func (r *runner) anyClient() *client.Client {
	return r.clients[r.pollCalls.Add(1)%uint64(len(r.clients))]
}

// preflight checks that every server answers and accepts the admin key.
func (r *runner) preflight(ctx context.Context) error {
	for i, c := range r.clients {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := c.ListEvents(pctx, client.ListOptions{Limit: 1})
		cancel()
		var apiErr *client.Error
		switch {
		case err == nil:
		case errors.As(err, &apiErr) && (apiErr.Status == http.StatusUnauthorized || apiErr.Status == http.StatusForbidden):
			return fmt.Errorf("drop: %s rejected the admin key: %w", r.cfg.Servers[i], err)
		case errors.As(err, &apiErr):
			return fmt.Errorf("drop: %s is not ready: %w", r.cfg.Servers[i], err)
		default:
			return fmt.Errorf("drop: cannot reach %s: %w", r.cfg.Servers[i], err)
		}
	}
	return nil
}

// loadKeys fetches the JWKS for checking passes locally; without it, the
// rehearsal checks passes with the server only.
func (r *runner) loadKeys(ctx context.Context) {
	s, err := r.clients[0].JWKS(ctx)
	if err == nil {
		r.keys, err = newKeySet(s)
	}
	if err != nil {
		r.rep.LocalPassNote = fmt.Sprintf("no usable JWKS: %v", err)
	}
}

// retry modes of a fan's join.
const (
	joinOnce uint8 = iota
	joinTwiceAtOnce
	joinTwiceInTurn
)

// joinAll makes every fan join, Concurrency at a time.
func (r *runner) joinAll(ctx context.Context) {
	modes := make([]uint8, r.cfg.Fans)
	repeaters := int(math.Round(r.cfg.RetryShare * float64(r.cfg.Fans)))
	for k, i := range mathrand.Perm(r.cfg.Fans)[:repeaters] {
		modes[i] = joinTwiceAtOnce + uint8(k%2)
	}
	r.rep.Repeaters = repeaters

	r.prog.start("joins", r.cfg.Fans)
	defer r.prog.end()
	forEach(ctx, r.cfg.Fans, r.cfg.Concurrency, func(i int) {
		first := r.clients[i%len(r.clients)]
		second := r.clients[(i+1)%len(r.clients)]
		var attempts [2]joinAttempt
		switch modes[i] {
		case joinOnce:
			attempts[0] = r.joinOnce(ctx, first, i)
		case joinTwiceInTurn:
			attempts[0] = r.joinOnce(ctx, first, i)
			attempts[1] = r.joinOnce(ctx, second, i)
		case joinTwiceAtOnce:
			var wg sync.WaitGroup
			wg.Go(func() { attempts[1] = r.joinOnce(ctx, second, i) })
			attempts[0] = r.joinOnce(ctx, first, i)
			wg.Wait()
		}
		n := 1
		if modes[i] != joinOnce {
			n = 2
		}
		r.checker.joined(i, attempts[:n])
		r.prog.add(1)
	})
}

func (r *runner) joinOnce(ctx context.Context, c *client.Client, i int) joinAttempt {
	a := joinAttempt{sent: r.now()}
	a.ticket, a.created, a.err = c.Join(ctx, r.eventID, userID(i))
	a.acked = r.now()
	r.join.observe(a.sent, a.acked, a.err)
	return a
}

// extraRounds bounds the rounds spent fetching passes that could not be
// read, after the line is empty.
const extraRounds = 3

// admitAll alternates reading every ticket still in play and admitting a
// batch, until no fan waits.
func (r *runner) admitAll(ctx context.Context) error {
	total := 0
	for _, f := range r.checker.fans {
		if f.state == fanWaiting {
			total++
		}
	}
	r.prog.start("admitted", total)
	defer r.prog.end()

	var todo []int32
	extra := 0
	for {
		todo = todo[:0]
		waiting := 0
		for i, f := range r.checker.fans {
			switch f.state {
			case fanWaiting:
				waiting++
				todo = append(todo, int32(i))
			case fanAdmitted:
				todo = append(todo, int32(i))
			}
		}
		if len(todo) == 0 {
			return nil
		}
		if waiting == 0 {
			if extra++; extra > extraRounds {
				return nil
			}
		}
		forEach(ctx, len(todo), r.cfg.Concurrency, func(k int) { r.read(ctx, int(todo[k])) })
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("drop: reading tickets: %w", err)
		}
		if waiting == 0 {
			continue
		}

		start := r.now()
		adm, err := r.adminClient().Admit(ctx, r.eventID, r.cfg.Batch)
		r.admit.observe(start, r.now(), err)
		if err != nil {
			return fmt.Errorf("drop: admit: %w", err)
		}
		r.rep.Rounds++
		admitted := r.checker.admit(adm.Tickets)
		r.rep.Admitted += len(admitted)
		if len(adm.Tickets) == 0 {
			return nil // nobody left to admit, though some fans still wait: NeverAdmitted
		}
	}
}

// read polls fan i's ticket and, once it is admitted, checks its pass.
func (r *runner) read(ctx context.Context, i int) {
	f := &r.checker.fans[i]
	start := r.now()
	t, err := r.anyClient().Ticket(ctx, r.eventID, f.ticket)
	r.poll.observe(start, r.now(), err)
	if err != nil {
		return // read again next round
	}
	if !r.checker.polled(i, t) {
		return
	}
	f.passOK = r.checkPass(ctx, i, t.Pass)
	f.state = fanDone
	r.prog.add(1)
}

// checkPass has the server verify fan i's pass for its event and for
// another, checks it locally when it can, and reports whether the server
// found it valid for the fan.
func (r *runner) checkPass(ctx context.Context, i int, pass string) bool {
	f := &r.checker.fans[i]
	user := userID(i)

	start := r.now()
	v, err := r.anyClient().VerifyPass(ctx, pass, r.eventID)
	r.verify.observe(start, r.now(), err)
	ok := err == nil && v.Valid && v.TicketID == f.ticket && v.UserID == user

	start = r.now()
	other, err := r.anyClient().VerifyPass(ctx, pass, r.eventID+"-elsewhere")
	r.verify.observe(start, r.now(), err)
	if err == nil && (other.Valid || other.Reason != client.ReasonWrongEvent) {
		r.wrongEventAccepted.Add(1)
	}

	if r.keys != nil {
		if err := r.keys.check(pass, r.eventID, user, f.ticket, time.Now()); err != nil {
			r.localFailures.Add(1)
		}
	}
	return ok
}

// finish fills in the report from what the rehearsal saw.
func (r *runner) finish() {
	c, rep := r.checker, r.rep
	rep.Elapsed = time.Since(r.start)
	rep.LocalPassCheck = r.keys != nil
	rep.FansWithoutOneTicket = int(c.noOneTicket.Load())
	rep.RepeatJoinErrors = int(c.repeatErrors.Load())
	rep.SharedTickets = int(c.sharedTickets.Load())
	rep.Inversions = inversions(c.fans)
	rep.PositionRises = int(c.rises.Load())
	rep.PositionErrors = int(c.positionErrs.Load())
	rep.StatusErrors = int(c.statusErrs.Load())
	rep.AdmittedTwice = int(c.admittedTwice.Load())
	rep.NeverAdmitted = c.neverAdmitted()
	rep.UnknownAdmitted = int(c.unknown.Load())
	rep.InvalidPasses = c.invalidPasses()
	rep.WrongEventAccepted = int(r.wrongEventAccepted.Load())
	rep.LocalPassFailures = int(r.localFailures.Load())
	rep.Join, rep.Poll, rep.Admit, rep.Verify = r.join.stats(), r.poll.stats(), r.admit.stats(), r.verify.stats()
	rep.Streams, rep.StreamRestarts = r.stream.stats(), int(r.streamRestarts.Load())
	if r.checker.follow && r.cfg.Rate > 0 {
		rep.Admitted = c.admittedSeen()
	}
	errs, waits := c.estimateErrors()
	rep.Estimates = EstimateStats{
		Fans:       len(errs),
		MedianErr:  quantileOf(errs, 0.5),
		P90Err:     quantileOf(errs, 0.9),
		MedianWait: time.Duration(quantileOf(waits, 0.5) * float64(time.Second)),
	}
}

// forEach calls f(i) for every i in [0, n) on up to workers goroutines and
// returns when every call has returned. Once ctx is done it starts no more
// calls.
func forEach(ctx context.Context, n, workers int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(max(workers, 1), n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}
