// Package drop rehearses a ticket drop against running QueuePass servers
// and checks that they keep the API's promises under load. It is what
// `queuepass drop` runs.
//
// A rehearsal creates an event of its own (open, admissions by the admin
// only, unlimited capacity), makes every fan join at once (or spread over
// Config.Arrival), then admits the line in batches, and deletes the event
// at the end. Every call goes
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
// Positions. Joins (the bots' too) are over before the first admission,
// and between admissions every fan still waiting reads its ticket. Its
// position must never rise above the previous read (the first being the
// join's answer). More strictly, since nobody joins or leaves while fans
// read and reads never overlap an admission, a waiting ticket's position
// is exactly its place in the admission order, plus one, minus the
// tickets admitted so far: the place implied by every read and by the
// fan's admission must agree, or the read counts as a wrong position.
//
// Admissions. Every fan with a ticket must be named by exactly one
// admission, no admission may name a ticket that no fan (or bot) holds,
// and a fan's ticket must read waiting until it is admitted and admitted
// after. Each admitted fan reads its pass and has it verified by the
// server for its event (valid, naming its ticket and user) and for another
// event (invalid, reason wrong_event). The pass is also checked on its own
// against the servers' JWKS when it can be fetched.
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
// Every call is timed, by kind (join, challenge, poll, stream, admit,
// verify): count, errors, throughput, and latency quantiles from a
// histogram of constant size, so that memory stays at about a hundred
// bytes per fan.
//
// # Addresses, proof of work and rate limits
//
// Every request of a fan carries, in X-Forwarded-For, an address of its
// own (10.0.0.1 for fan-0, and so on), and every request of a bot one of
// Config.BotAddresses addresses (198.18.0.0, 198.18.0.1, …). A server
// started with --trusted-proxies 127.0.0.1 (the rehearsal on the same
// machine) then counts its rate limits per simulated client, as it would
// behind a real load balancer; without it, the header is ignored and every
// request counts against the rehearsal's own address. Only do this on
// loopback: a server that trusts a proxy believes what it says.
//
// With Config.Challenge the event asks for proof of work: each fan asks
// for a challenge, solves it and joins with it, by hand rather than with
// client.JoinSolving, so that challenges are timed as calls of their own
// and a join's interval (above) starts when the join itself is sent. A
// fan's repeat sent after its first answer brings no challenge: a re-join
// of a live ticket needs no new work, so it must still get its ticket
// (200). A fan whose call is refused with 429 waits the Retry-After it is
// given and sends it again (with the same unspent challenge), as a waiting
// page would; those waits are counted, not errors. Such a call never
// reached the line, so its join's interval starts at the last sending.
//
// With Config.Arrival the fans' joins are spread uniformly at random over
// that window (the rush) instead of all sent at once.
//
// # Bots
//
// Config.Bots adds an attack: bots (user IDs bot-0, bot-1, …) start when
// the rush starts and try, BotConcurrency requests at a time, to get a
// ticket each: a challenge if the event asks for one, its solution, a
// join. On any refusal (429, 403 challenge_failed, 5xx, no answer) a bot
// tries again a few milliseconds later, whatever Retry-After says, and
// keeps a solved challenge that a 429 left unspent. Bots never poll. They
// stop when every fan's join has been answered (the rush is over); a
// request of theirs in flight then is still answered, so that every ticket
// the server made for a bot is known before admissions begin.
//
// Bot tickets take places in the line like anyone's: admissions that name
// them are not unknown, ranks in admission order count them, and so do the
// fans' positions, which is why the position checks above still hold
// exactly. The rehearsal admits until no fan waits; bots still waiting
// then do not matter. The report says how many requests bots sent and how
// they were answered, how many bots got a ticket, and the bots' share of
// the first admission and of all admissions next to their fair share,
// Bots / (Bots + Fans): what they would get if they were no faster than
// the fans. It also shows whether the tickets add up: the server's count
// of the event's tickets against the fans' and bots'. What bots get is
// reported, never judged: their refusals and failures are not errors of
// the rehearsal.
//
// Bots need admissions by the admin (no Config.Rate): only admission
// responses name the bots' tickets, since bots never read them.
package drop

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/client"
)

// Defaults for the zero values of Config.
const (
	DefaultFans        = 10000
	DefaultConcurrency = 200
	DefaultBatch       = 500
	DefaultRetryShare  = 0.1

	DefaultBotAddresses   = 4
	DefaultBotConcurrency = 64
)

// MaxArrival bounds Config.Arrival.
const MaxArrival = time.Hour

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
	// keeps enough idle connections for Concurrency and BotConcurrency.
	// The rehearsal uses a copy whose transport adds each request's
	// simulated client address (X-Forwarded-For).
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

	// Bots is the number of bot identities that attack the rush (see the
	// package documentation); 0: none. They come from BotAddresses client
	// addresses (1..MaxBotAddresses; 0 means DefaultBotAddresses), with
	// BotConcurrency requests in flight (0 means DefaultBotConcurrency).
	// Bots need admissions by the admin: Rate must be 0.
	Bots           int
	BotAddresses   int
	BotConcurrency int

	// Challenge is the challenge_difficulty the event is created with: the
	// leading zero bits of proof of work that each new ticket costs
	// (0..queuepass.MaxChallengeDifficulty); 0: none.
	Challenge int

	// Arrival spreads the fans' joins uniformly at random over this window
	// (0..MaxArrival) instead of sending them all at once (0).
	Arrival time.Duration
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
	if cfg.BotAddresses == 0 {
		cfg.BotAddresses = DefaultBotAddresses
	}
	if cfg.BotConcurrency == 0 {
		cfg.BotConcurrency = DefaultBotConcurrency
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
	case cfg.Bots < 0 || cfg.Bots > math.MaxInt32/2:
		return cfg, fmt.Errorf("drop: bots %d out of range", cfg.Bots)
	case cfg.Bots > 0 && cfg.Rate > 0:
		return cfg, errors.New("drop: bots need admissions by the admin (no rate): only admissions name the bots' tickets")
	case cfg.BotAddresses < 0 || cfg.BotAddresses > MaxBotAddresses:
		return cfg, fmt.Errorf("drop: bot addresses %d out of range 1..%d", cfg.BotAddresses, MaxBotAddresses)
	case cfg.BotConcurrency < 0:
		return cfg, fmt.Errorf("drop: bot concurrency %d out of range", cfg.BotConcurrency)
	case cfg.Challenge < 0 || cfg.Challenge > queuepass.MaxChallengeDifficulty:
		return cfg, fmt.Errorf("drop: challenge %d out of range 0..%d", cfg.Challenge, queuepass.MaxChallengeDifficulty)
	case cfg.Arrival < 0 || cfg.Arrival > MaxArrival:
		return cfg, fmt.Errorf("drop: arrival %v out of range 0..%v", cfg.Arrival, MaxArrival)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = client.NewHTTPClient(2*cfg.Concurrency + cfg.BotConcurrency)
	}
	cfg.HTTPClient = withForwardedFor(cfg.HTTPClient)
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
	r := &runner{cfg: cfg, start: time.Now(), prog: newProgress(cfg.Progress, cfg.Interactive), serverTickets: -1}
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
		ID:                  "drop-" + strings.ToLower(rand.Text()[:12]), // rand.Text is base32: A-Z, 2-7
		Name:                "Drop rehearsal " + r.start.UTC().Format(time.RFC3339),
		AdmitRatePerMinute:  cfg.Rate,
		ChallengeDifficulty: cfg.Challenge,
	})
	if err != nil {
		return nil, fmt.Errorf("drop: create event: %w", err)
	}
	r.eventID, r.origin, r.challenge = ev.ID, ev.CreatedAt, ev.ChallengeDifficulty
	if !cfg.KeepEvent {
		defer func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if derr := r.adminClient().DeleteEvent(dctx, r.eventID); derr != nil {
				err = errors.Join(err, fmt.Errorf("drop: delete event %s: %w", r.eventID, derr))
			}
		}()
	}

	r.rep = &Report{EventID: ev.ID, Servers: cfg.Servers, Fans: cfg.Fans, Rate: cfg.Rate, Streaming: cfg.Stream, Batch: cfg.Batch,
		Challenge: r.challenge, Arrival: cfg.Arrival}
	r.checker = newChecker(cfg.Fans, cfg.Bots)
	r.checker.follow = cfg.Rate > 0 || cfg.Stream
	r.join, r.poll, r.admit, r.verify, r.stream = newRecorder(), newRecorder(), newRecorder(), newRecorder(), newRecorder()
	r.challenges = newRecorder()
	defer r.finish()

	r.loadKeys(ctx)
	r.rush(ctx)
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
	if cfg.Bots > 0 {
		if s, err := r.adminClient().Stats(ctx, r.eventID); err == nil {
			r.serverTickets = s.TotalTickets
		}
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

	challenge int // the event's challenge_difficulty

	rep                       *Report
	checker                   *checker
	join, poll, admit, verify *recorder
	challenges                *recorder // fans' challenge requests
	stream                    *recorder // from opening a stream to its first update
	streamRestarts            atomic.Int64
	wrongEventAccepted        atomic.Int64
	localFailures             atomic.Int64
	rateLimitWaits            atomic.Int64 // 429s that fans waited out

	bots          botCounts
	rushTime      time.Duration // from the rush's start to the last answer of a fan's join or a bot's request
	serverTickets int           // the event's tickets by the server's stats after the rehearsal; -1 if not asked
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

// rush runs the fans' joins and, alongside, the bots' attack, and returns
// once every fan's join and every bot's request has been answered.
func (r *runner) rush(ctx context.Context) {
	start := time.Now()
	rush, end := context.WithCancel(ctx)
	defer end()
	var wg sync.WaitGroup
	if len(r.checker.bots) > 0 {
		wg.Go(func() { r.runBots(ctx, rush) })
	}
	r.joinAll(ctx)
	end()
	wg.Wait()
	r.rushTime = time.Since(start)
}

// joinAll makes every fan join, Concurrency at a time; with Arrival, each
// fan at a moment drawn uniformly from the window (or later, when all
// Concurrency are busy).
func (r *runner) joinAll(ctx context.Context) {
	modes := make([]uint8, r.cfg.Fans)
	repeaters := int(math.Round(r.cfg.RetryShare * float64(r.cfg.Fans)))
	for k, i := range mathrand.Perm(r.cfg.Fans)[:repeaters] {
		modes[i] = joinTwiceAtOnce + uint8(k%2)
	}
	r.rep.Repeaters = repeaters

	var order []int32 // fans by arrival; nil: all at once, in index order
	var arrival []time.Duration
	if r.cfg.Arrival > 0 {
		arrival = make([]time.Duration, r.cfg.Fans)
		order = make([]int32, r.cfg.Fans)
		for i := range arrival {
			arrival[i] = mathrand.N(r.cfg.Arrival)
			order[i] = int32(i)
		}
		slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(arrival[a], arrival[b]) })
	}

	r.prog.start("joins", r.cfg.Fans)
	defer r.prog.end()
	start := time.Now()
	forEach(ctx, r.cfg.Fans, r.cfg.Concurrency, func(i int) {
		if order != nil {
			i = int(order[i])
			if !sleep(ctx, time.Until(start.Add(arrival[i]))) {
				return
			}
		}
		first := r.clients[i%len(r.clients)]
		second := r.clients[(i+1)%len(r.clients)]
		var attempts [2]joinAttempt
		switch modes[i] {
		case joinOnce:
			attempts[0] = r.joinOnce(ctx, first, i, true)
		case joinTwiceInTurn:
			attempts[0] = r.joinOnce(ctx, first, i, true)
			// A re-join of a live ticket needs no new proof of work.
			attempts[1] = r.joinOnce(ctx, second, i, attempts[0].err != nil)
		case joinTwiceAtOnce:
			var wg sync.WaitGroup
			wg.Go(func() { attempts[1] = r.joinOnce(ctx, second, i, true) })
			attempts[0] = r.joinOnce(ctx, first, i, true)
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

// joinOnce sends one join attempt of fan i, first solving a challenge when
// the event asks for proof of work and solve is set. Calls refused with
// 429 are sent again after their Retry-After; the attempt runs from the
// sending of its last join request, since the ones refused never reached
// the line.
func (r *runner) joinOnce(ctx context.Context, c *client.Client, i int, solve bool) joinAttempt {
	ctx = fromAddress(ctx, fanAddress(i))
	a := joinAttempt{sent: r.now()}
	p := client.JoinParams{UserID: userID(i)}
	if solve && r.challenge > 0 {
		proof, err := r.solveChallenge(ctx, c)
		if err != nil {
			a.err = err
			return a
		}
		p.Challenge, p.Nonce = proof.Challenge, proof.Nonce
	}
	a.err = r.patiently(ctx, func() (err error) {
		a.sent = r.now()
		a.ticket, a.created, err = c.JoinWith(ctx, r.eventID, p)
		a.acked = r.now()
		return err
	})
	r.join.observe(a.sent, a.acked, a.err)
	return a
}

// solveChallenge asks for a challenge for one join and solves it.
func (r *runner) solveChallenge(ctx context.Context, c *client.Client) (client.Proof, error) {
	var (
		ch    client.Challenge
		start int64
	)
	err := r.patiently(ctx, func() (err error) {
		start = r.now()
		ch, err = c.Challenge(ctx, r.eventID)
		return err
	})
	r.challenges.observe(start, r.now(), err)
	if err != nil {
		return client.Proof{}, err
	}
	return ch.Solve(ctx)
}

// maxRateLimitWaits bounds the 429s in a row that a fan waits out on one
// call before it counts the call as failed.
const maxRateLimitWaits = 30

// minRateLimitWait is the least a fan waits after a 429, whatever its
// Retry-After says.
const minRateLimitWait = 250 * time.Millisecond

// rateLimited reports whether err is a 429 refusal, and how long to wait
// before trying again.
func rateLimited(err error) (time.Duration, bool) {
	e, ok := errors.AsType[*client.Error](err)
	if !ok || e.Status != http.StatusTooManyRequests {
		return 0, false
	}
	return max(e.RetryAfter, minRateLimitWait), true
}

// patiently calls f until it fails with anything but a 429 refusal (or
// succeeds), waiting out each 429's Retry-After, at most maxRateLimitWaits
// times, and returns f's last error.
func (r *runner) patiently(ctx context.Context, f func() error) error {
	for n := 0; ; n++ {
		err := f()
		wait, limited := rateLimited(err)
		if !limited || n == maxRateLimitWaits {
			return err
		}
		r.rateLimitWaits.Add(1)
		if !sleep(ctx, wait) {
			return err
		}
	}
}

// sleep waits for d, or until ctx ends; it reports whether ctx is still
// alive.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
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
	ctx = fromAddress(ctx, fanAddress(i))
	var (
		t     client.Ticket
		start int64
	)
	err := r.patiently(ctx, func() (err error) {
		start = r.now()
		t, err = r.anyClient().Ticket(ctx, r.eventID, f.ticket)
		return err
	})
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
	rep.Challenges = r.challenges.stats()
	rep.RateLimitWaits = int(r.rateLimitWaits.Load())
	if len(c.bots) > 0 {
		rep.Bots = r.botReport()
	}
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
