package drop

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/queuepass/queuepass/client"
)

// batchSeenTimeout bounds how long the admin waits, in a streaming
// rehearsal with admissions by the admin, for the fans of one admission to
// see it before admitting the next batch anyway.
const batchSeenTimeout = 30 * time.Second

// followAll runs the rehearsal's waiting in follow mode: every fan with a
// ticket follows it on its own, polling at its poll_after_seconds or over
// its stream, until it sees its admission, while either the event admits
// by itself (Config.Rate) or the admin admits batches, each once the fans
// of the previous one have seen it. It returns when every fan is done or,
// with admissions by the admin, when nobody is left to admit.
func (r *runner) followAll(ctx context.Context) error {
	total := 0
	for _, f := range r.checker.fans {
		if f.state == fanWaiting {
			total++
		}
	}
	r.prog.start("admitted", total)
	defer r.prog.end()

	fctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		wg   sync.WaitGroup
		seen atomic.Int64 // fans that saw their admission
		sem  = make(chan struct{}, r.cfg.Concurrency)
	)
	for i := range r.checker.fans {
		if r.checker.fans[i].state != fanWaiting {
			continue
		}
		wg.Go(func() {
			if r.follow(fctx, i, sem) {
				seen.Add(1)
				r.prog.add(1)
			}
		})
	}
	var err error
	if r.cfg.Rate == 0 {
		err = r.admitWhileFollowed(fctx, &seen)
	} else {
		err = r.watchProgress(fctx, &seen, int64(total))
	}
	stop() // fans still waiting now will not be admitted
	wg.Wait()
	if r.cfg.Rate == 0 {
		r.checker.settleFollowed()
	}
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("drop: waiting for admission: %w", ctx.Err())
	}
	return err
}

// watchProgress waits while the event admits by itself, until every fan
// has seen its admission; it fails if nobody is admitted for stallTimeout
// (or three admission intervals of the rate, if longer), so that a server
// that stopped admitting ends the rehearsal instead of hanging it.
func (r *runner) watchProgress(ctx context.Context, seen *atomic.Int64, total int64) error {
	stall := max(stallTimeout, 3*time.Minute/time.Duration(r.cfg.Rate))
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last, lastAt := seen.Load(), time.Now()
	for {
		n := seen.Load()
		switch {
		case n >= total:
			return nil
		case n != last:
			last, lastAt = n, time.Now()
		case time.Since(lastAt) > stall:
			return fmt.Errorf("drop: no fan was admitted for %v (%d of %d so far); is the event admitting?", stall, n, total)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// stallTimeout is how long a rehearsal with automatic admission waits for
// the next admission before it gives up.
const stallTimeout = 30 * time.Second

// admitWhileFollowed admits batches until an admission admits nobody,
// waiting after each until the fans it admitted have seen it (or
// batchSeenTimeout has passed).
func (r *runner) admitWhileFollowed(ctx context.Context, seen *atomic.Int64) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		start := r.now()
		adm, err := r.adminClient().Admit(ctx, r.eventID, r.cfg.Batch)
		r.admit.observe(start, r.now(), err)
		if err != nil {
			return fmt.Errorf("drop: admit: %w", err)
		}
		r.rep.Rounds++
		r.rep.Admitted += len(r.checker.admit(adm.Tickets))
		if len(adm.Tickets) == 0 {
			break
		}
		deadline := time.Now().Add(batchSeenTimeout)
		for seen.Load() < int64(r.rep.Admitted) && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("drop: admit: %w", ctx.Err())
			case <-tick.C:
			}
		}
	}
	// Let the last fans see their admission.
	deadline := time.Now().Add(batchSeenTimeout)
	for seen.Load() < int64(r.rep.Admitted) && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	return nil
}

// follow has fan i follow its ticket until it sees its admission (and its
// pass is checked) or the ticket ends, or ctx ends; it reports whether the
// fan saw its admission. Requests, and the opening of streams, are limited
// to len(sem) at once.
func (r *runner) follow(ctx context.Context, i int, sem chan struct{}) bool {
	f := &r.checker.fans[i]
	ctx = fromAddress(ctx, fanAddress(i))
	observe := func(t client.Ticket) (done bool) {
		done, check := r.checker.followed(i, t, r.cfg.Rate > 0, r.origin)
		if check {
			f.passOK = r.checkPass(ctx, i, t.Pass)
			f.state = fanDone
		}
		return done
	}
	if r.cfg.Stream {
		r.streamTicket(ctx, i, sem, observe)
	} else {
		r.pollTicket(ctx, i, sem, observe)
	}
	return f.waited >= 0
}

// pollTicket reads fan i's ticket every poll_after_seconds (at once at
// first, a second after a failed read, Retry-After after a 429) until
// observe says it is done.
func (r *runner) pollTicket(ctx context.Context, i int, sem chan struct{}, observe func(client.Ticket) bool) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	ticket := r.checker.fans[i].ticket
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		sem <- struct{}{}
		start := r.now()
		t, err := r.anyClient().Ticket(ctx, r.eventID, ticket)
		<-sem
		if ctx.Err() != nil {
			return
		}
		if wait, limited := rateLimited(err); limited {
			r.rateLimitWaits.Add(1)
			timer.Reset(wait)
			continue
		}
		r.poll.observe(start, r.now(), err)
		if err != nil {
			timer.Reset(time.Second)
			continue
		}
		if observe(t) {
			return
		}
		timer.Reset(time.Duration(max(1, t.PollAfterSeconds)) * time.Second)
	}
}

// streamTicket follows fan i's ticket over its stream until observe says
// it is done, opening the stream again when the server ends it early (or
// after Retry-After, when its opening is refused with 429). The time to a
// stream's first update is recorded as a "stream" call.
func (r *runner) streamTicket(ctx context.Context, i int, sem chan struct{}, observe func(client.Ticket) bool) {
	ticket := r.checker.fans[i].ticket
	for ctx.Err() == nil {
		sem <- struct{}{}
		held := true
		release := func() {
			if held {
				<-sem
				held = false
			}
		}
		start, first := r.now(), true
		var failed error
		wait := time.Second
		for t, err := range r.anyClient().Stream(ctx, r.eventID, ticket) {
			if ctx.Err() != nil {
				release()
				return
			}
			if d, limited := rateLimited(err); limited {
				r.rateLimitWaits.Add(1)
				failed, wait = err, d
				break
			}
			if first || (err != nil && !errors.Is(err, client.ErrStreamEnded)) {
				r.stream.observe(start, r.now(), err)
				first = false
				release()
			}
			if err != nil {
				failed = err
				break
			}
			if observe(t) {
				release()
				return
			}
		}
		release()
		if errors.Is(failed, client.ErrStreamEnded) {
			r.streamRestarts.Add(1)
			continue
		}
		// Another failure, already recorded (or a 429): try again after a
		// second (or its Retry-After).
		sleep(ctx, wait)
	}
}
