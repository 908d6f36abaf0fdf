package drop

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/queuepass/queuepass/client"
)

// botRetry is how long a bot waits after a refusal before its next try:
// a few milliseconds, whatever Retry-After says.
const botRetry = 5 * time.Millisecond

// bot is what the rehearsal remembers of one bot.
type bot struct {
	ticket string
	rank   int32        // the bot's place in admission order; -1 until admitted
	proof  client.Proof // a solved challenge not spent yet (a join refused with 429 spends none)
	shared bool         // its ticket was handed to another too, so it is no one's
}

// botID names bot k.
func botID(k int) string { return "bot-" + strconv.Itoa(k) }

// botIndex reads a bot's user ID back, or -1 if it is not one of n bots'.
func botIndex(userID string, n int) int {
	s, ok := strings.CutPrefix(userID, "bot-")
	if !ok {
		return -1
	}
	k, err := strconv.Atoi(s)
	if err != nil || k < 0 || k >= n || botID(k) != userID {
		return -1
	}
	return k
}

// statusCounts count answers by HTTP status; [0] counts requests without
// an answer (a transport error). They are safe for concurrent use.
type statusCounts [600]atomic.Int64

// answer records a request that got err (nil: status ok).
func (c *statusCounts) answer(ok int, err error) {
	status := ok
	if err != nil {
		status = 0
		if e, isAPI := errors.AsType[*client.Error](err); isAPI && e.Status > 0 && e.Status < len(c) {
			status = e.Status
		}
	}
	c[status].Add(1)
}

// counts returns the statuses that were answered, in order.
func (c *statusCounts) counts() []StatusCount {
	var out []StatusCount
	for status := range c {
		if n := c[status].Load(); n > 0 {
			out = append(out, StatusCount{Status: status, Count: int(n)})
		}
	}
	return out
}

// botCounts are the bots' requests, by kind and by the status they got.
type botCounts struct {
	challenges, joins statusCounts
}

// runBots has the bots try to join until every bot has a ticket or rush
// ends. BotConcurrency workers take the bots without a ticket in turn; each
// try is a challenge (when the event asks for proof of work, and the bot
// holds no unspent solution), its solution, and a join. A refused try puts
// the bot back in the queue after botRetry. Requests run under ctx, not
// rush: a request in flight when the rush ends is answered, so that every
// bot ticket the server makes is known before admissions begin; no new
// request starts after it.
func (r *runner) runBots(ctx, rush context.Context) {
	n := len(r.checker.bots)
	queue := make(chan int32, n)
	for k := range n {
		queue <- int32(k)
	}
	var (
		wg        sync.WaitGroup
		remaining atomic.Int64
		allDone   = make(chan struct{})
	)
	remaining.Store(int64(n))
	for range min(r.cfg.BotConcurrency, n) {
		wg.Go(func() {
			pause := time.NewTimer(botRetry)
			pause.Stop()
			defer pause.Stop()
			for {
				var k int32
				select {
				case <-rush.Done():
					return
				case <-allDone:
					return
				case k = <-queue:
				}
				if r.botTry(ctx, rush, int(k)) {
					if remaining.Add(-1) == 0 {
						close(allDone)
					}
					continue
				}
				pause.Reset(botRetry)
				select {
				case <-rush.Done():
					return
				case <-pause.C:
				}
				queue <- k // never blocks: each bot is in the queue or with one worker
			}
		})
	}
	wg.Wait()
}

// botTry makes one try of bot k and reports whether the bot now has a
// ticket.
func (r *runner) botTry(ctx, rush context.Context, k int) bool {
	b := &r.checker.bots[k]
	c := r.clients[k%len(r.clients)]
	actx := fromAddress(ctx, botAddress(k%r.cfg.BotAddresses))
	if r.challenge > 0 && b.proof.Challenge == "" {
		if rush.Err() != nil {
			return false
		}
		ch, err := c.Challenge(actx, r.eventID)
		r.bots.challenges.answer(http.StatusOK, err)
		if err != nil {
			return false
		}
		if b.proof, err = ch.Solve(rush); err != nil {
			b.proof = client.Proof{}
			return false
		}
	}
	if rush.Err() != nil {
		return false
	}
	t, created, err := c.JoinWith(actx, r.eventID, client.JoinParams{UserID: botID(k), Challenge: b.proof.Challenge, Nonce: b.proof.Nonce})
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	r.bots.joins.answer(status, err)
	if err != nil {
		if e, ok := errors.AsType[*client.Error](err); !ok || e.Status != http.StatusTooManyRequests {
			b.proof = client.Proof{} // spent, or refused: the next try solves a new one
		}
		return false
	}
	b.ticket, b.proof = t.ID, client.Proof{}
	return true
}

// botReport sums up what the bots did.
func (r *runner) botReport() BotReport {
	c := r.checker
	rep := BotReport{
		Bots:          len(c.bots),
		Addresses:     r.cfg.BotAddresses,
		Concurrency:   r.cfg.BotConcurrency,
		Rush:          r.rushTime,
		Unheard:       c.botsUnheard,
		FanTickets:    c.fanTickets(),
		ServerTickets: r.serverTickets,
		Challenges:    r.bots.challenges.counts(),
		Joins:         r.bots.joins.counts(),
		FirstBatch:    c.firstBatch,
		All:           Share{Admitted: c.admitted, Bots: c.botsAdmitted},
		FairShare:     float64(len(c.bots)) / float64(len(c.bots)+len(c.fans)),
	}
	for _, b := range c.bots {
		if b.ticket != "" {
			rep.Tickets++
		}
	}
	return rep
}
