package drop

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/client"
)

// fanState is where a fan is in the rehearsal.
type fanState uint8

const (
	fanNoTicket fanState = iota // the join failed
	fanWaiting                  // holds a ticket that no admission has named yet
	fanAdmitted                 // named by an admission; its pass is not checked yet
	fanDone                     // its pass was checked (or could not be)
)

// fan is what the rehearsal remembers of one fan. It is kept small, since a
// rehearsal may have 100k fans.
type fan struct {
	ticket string
	sent   int64 // when the fan's first join attempt was sent (ns since the run started)
	acked  int64 // when the first answer with its ticket came back; -1 if none did
	rank   int32 // the fan's place in admission order; -1 until admitted
	line   int32 // its place in line implied by the first polled position; -1 until polled
	pos    int32 // the last position read; 0 before any
	est    int32 // estimated_wait_seconds of the first answer to its join; -1 if none
	waited int32 // its real wait in seconds (admitted_at - joined_at); -1 until seen admitted
	state  fanState
	passOK bool // the server verified the fan's pass for its event
}

// userID names fan i.
func userID(i int) string { return "fan-" + strconv.Itoa(i) }

// joinAttempt is one join request of a fan.
type joinAttempt struct {
	sent, acked int64 // acked is meaningful only when err is nil
	ticket      client.Ticket
	created     bool
	err         error
}

// checker holds the invariants' evidence. Its methods that take a fan index
// may run concurrently for different fans; index, admit and finish may not
// run concurrently with anything.
type checker struct {
	// follow is set when fans follow their tickets on their own (polling
	// at their own pace or streaming) while admissions happen: then reads
	// are not ordered with admissions, so positions are checked for rises
	// only, and admissions (by the admin, if any) record ranks only.
	follow bool

	fans     []fan
	byTicket map[string]int32 // ticket ID → fan
	admitted int              // tickets named by admissions so far: the next rank

	// Bots take places in the line like fans, so ranks and positions count
	// them, but they are judged only for being admitted once.
	bots         []bot
	byBotTicket  map[string]int32 // ticket ID → bot
	botsAdmitted int
	botsUnheard  int   // bot tickets first learned from an admission (the join's answer was lost)
	firstBatch   Share // the first admission that admitted anyone

	noOneTicket   atomic.Int64
	repeatErrors  atomic.Int64
	sharedTickets atomic.Int64
	rises         atomic.Int64
	positionErrs  atomic.Int64
	statusErrs    atomic.Int64
	admittedTwice atomic.Int64
	unknown       atomic.Int64
}

func newChecker(fans, bots int) *checker {
	c := &checker{fans: make([]fan, fans), bots: make([]bot, bots)}
	for i := range c.fans {
		c.fans[i] = fan{acked: -1, rank: -1, line: -1, est: -1, waited: -1}
	}
	for k := range c.bots {
		c.bots[k].rank = -1
	}
	return c
}

// joined judges the join attempts of fan i. All attempts that got an
// answer must name one ticket of this fan, exactly one of them must have
// made it (201), and an attempt sent after another's answer arrived must
// get the existing ticket (200). The fan's join was accepted by the store
// between its first send and its first answer.
func (c *checker) joined(i int, attempts []joinAttempt) {
	f := &c.fans[i]
	f.sent = attempts[0].sent
	var ids []string
	created, answered := 0, 0
	repeatOK := true
	for _, a := range attempts {
		f.sent = min(f.sent, a.sent)
		if a.err != nil {
			continue
		}
		answered++
		if f.acked < 0 || a.acked < f.acked {
			f.acked = a.acked
			f.est = -1
			if a.ticket.EstimatedWaitSeconds != nil {
				f.est = int32(min(*a.ticket.EstimatedWaitSeconds, math.MaxInt32))
			}
		}
		if !slices.Contains(ids, a.ticket.ID) {
			ids = append(ids, a.ticket.ID)
		}
		if a.created {
			created++
		}
		// An event that admits by itself may admit a fan between its
		// join and its repeat: then the repeat names the admitted ticket.
		live := a.ticket.Status == queuepass.StatusWaiting || c.follow && a.ticket.Status == queuepass.StatusAdmitted
		if a.ticket.UserID != userID(i) || !live {
			repeatOK = false
		}
		if a.ticket.Position != nil && (f.pos == 0 || int32(*a.ticket.Position) < f.pos) {
			f.pos = int32(*a.ticket.Position)
		}
		for _, b := range attempts {
			if b.err == nil && b.sent > a.acked && b.created {
				repeatOK = false // a repeat after an answer made a second ticket
			}
		}
	}
	if answered == len(attempts) && created != 1 {
		repeatOK = false
	}
	if answered > 0 && !repeatOK {
		c.repeatErrors.Add(1)
	}
	if len(ids) != 1 {
		c.noOneTicket.Add(1)
		f.acked = -1 // no one ticket to judge the order of
		return
	}
	f.ticket = ids[0]
	f.state = fanWaiting
}

// index maps tickets to fans and bots, and counts tickets handed to
// several of them. Fans and bots that share a ticket lose it: the ticket is
// no one's.
func (c *checker) index() {
	c.byTicket = make(map[string]int32, len(c.fans))
	c.byBotTicket = make(map[string]int32)
	holders := make(map[string]int32, len(c.fans)+len(c.bots))
	for i := range c.fans {
		if f := &c.fans[i]; f.state == fanWaiting {
			holders[f.ticket]++
		}
	}
	for _, b := range c.bots {
		if b.ticket != "" {
			holders[b.ticket]++
		}
	}
	for i := range c.fans {
		f := &c.fans[i]
		switch {
		case f.state != fanWaiting:
		case holders[f.ticket] > 1:
			f.state, f.acked = fanNoTicket, -1
		default:
			c.byTicket[f.ticket] = int32(i)
		}
	}
	for k := range c.bots {
		b := &c.bots[k]
		switch {
		case b.ticket == "":
		case holders[b.ticket] > 1:
			b.ticket, b.shared = "", true
		default:
			c.byBotTicket[b.ticket] = int32(k)
		}
	}
	for _, n := range holders {
		if n > 1 {
			c.sharedTickets.Add(1)
		}
	}
}

// polled judges a read of fan i's ticket, made while no admission ran, and
// reports whether the fan should now have its pass checked. A waiting fan
// must read waiting, at a position no higher than before, and exactly at
// its place in line minus the tickets admitted so far. An admitted fan must
// read admitted with a pass.
func (c *checker) polled(i int, t client.Ticket) (checkPass bool) {
	f := &c.fans[i]
	switch f.state {
	case fanWaiting:
		if t.Status != queuepass.StatusWaiting || t.Position == nil {
			c.statusErrs.Add(1)
			return false
		}
		c.observePosition(f, *t.Position)
		return false
	case fanAdmitted:
		if t.Status != queuepass.StatusAdmitted || t.Pass == "" {
			c.statusErrs.Add(1)
			f.state = fanDone
			return false
		}
		recordWait(f, t)
		return true
	}
	return false
}

// recordWait notes the real wait of a fan seen admitted in t.
func recordWait(f *fan, t client.Ticket) {
	if t.AdmittedAt != nil {
		f.waited = int32(max(0, min(t.AdmittedAt.Sub(t.JoinedAt)/time.Second, math.MaxInt32)))
	}
}

// observePosition records that f read pos while c.admitted tickets had
// been admitted (in follow mode: at some moment, unordered with
// admissions).
func (c *checker) observePosition(f *fan, pos int) {
	if f.pos > 0 && int32(pos) > f.pos {
		c.rises.Add(1)
	}
	f.pos = int32(pos)
	if c.follow {
		return
	}
	line := int32(pos - 1 + c.admitted)
	switch {
	case f.line < 0:
		f.line = line
	case f.line != line:
		c.positionErrs.Add(1)
	}
}

// admit records one admission response, in order after the earlier ones,
// and returns the fans it admitted.
func (c *checker) admit(tickets []client.AdmittedTicket) []int32 {
	var fans []int32
	bots := 0
	defer func() {
		if c.firstBatch.Admitted == 0 {
			c.firstBatch = Share{Admitted: len(tickets), Bots: bots}
		}
	}()
	for _, t := range tickets {
		rank := int32(c.admitted)
		c.admitted++
		i, ok := c.byTicket[t.ID]
		if !ok || t.UserID != userID(int(i)) {
			if !c.admitBot(t, rank) {
				c.unknown.Add(1)
			} else {
				bots++
			}
			continue
		}
		f := &c.fans[i]
		if f.rank >= 0 {
			c.admittedTwice.Add(1)
			continue
		}
		f.rank = rank
		fans = append(fans, i)
		if c.follow {
			continue // the fan's follower sees the admission itself
		}
		if f.line >= 0 && f.line != rank {
			c.positionErrs.Add(1)
		}
		f.state = fanAdmitted
	}
	return fans
}

// admitBot records the admission of t at rank if it is a bot's ticket, and
// reports whether it is. A ticket of a bot that never heard its join's
// answer (its request failed, but the server made the ticket) is the
// bot's from now on.
func (c *checker) admitBot(t client.AdmittedTicket, rank int32) bool {
	k, ok := c.byBotTicket[t.ID]
	switch {
	case ok && t.UserID != botID(int(k)):
		return false
	case !ok:
		k = int32(botIndex(t.UserID, len(c.bots)))
		if k < 0 || c.bots[k].ticket != "" || c.bots[k].shared {
			return false
		}
		c.bots[k].ticket = t.ID
		c.byBotTicket[t.ID] = k
		c.botsUnheard++
	}
	b := &c.bots[k]
	if b.rank >= 0 {
		c.admittedTwice.Add(1)
		return true
	}
	b.rank = rank
	c.botsAdmitted++
	return true
}

// followed judges a ticket that fan i's follower saw (in follow mode), and
// reports whether the fan is done: seen admitted (and ready for its pass to
// be checked, with checkPass true) or ended. rankFromTime sets the fan's rank
// from its admission time, for rehearsals where no admission response
// gives the order; origin is the time ranks count whole seconds from.
func (c *checker) followed(i int, t client.Ticket, rankFromTime bool, origin time.Time) (done, checkPass bool) {
	f := &c.fans[i]
	switch {
	case t.Status == queuepass.StatusWaiting && t.Position != nil:
		c.observePosition(f, *t.Position)
		return false, false
	case t.Status == queuepass.StatusAdmitted && t.Pass != "" && t.AdmittedAt != nil:
		recordWait(f, t)
		if rankFromTime {
			f.rank = int32(max(0, min(t.AdmittedAt.Sub(origin)/time.Second, math.MaxInt32)))
		}
		f.state = fanAdmitted
		return true, true
	}
	c.statusErrs.Add(1)
	f.state = fanDone
	return true, false
}

// settleFollowed judges, after a rehearsal in follow mode with admissions
// by the admin, that every fan the admin admitted saw its admission and
// that none saw one the admin did not make. It may not run concurrently
// with anything.
func (c *checker) settleFollowed() {
	for i := range c.fans {
		f := &c.fans[i]
		seen := f.waited >= 0
		if f.state != fanNoTicket && (f.rank >= 0) != seen {
			c.statusErrs.Add(1)
			if f.state == fanWaiting {
				f.state = fanDone // counted here, not as never admitted
			}
		}
	}
}

// fanTickets counts fans that hold one ticket of their own.
func (c *checker) fanTickets() int {
	n := 0
	for _, f := range c.fans {
		if f.state != fanNoTicket {
			n++
		}
	}
	return n
}

// neverAdmitted counts fans that hold a ticket no admission named.
func (c *checker) neverAdmitted() int {
	n := 0
	for _, f := range c.fans {
		if f.state == fanWaiting {
			n++
		}
	}
	return n
}

// admittedSeen counts fans that saw their admission.
func (c *checker) admittedSeen() int {
	n := 0
	for _, f := range c.fans {
		if f.waited >= 0 {
			n++
		}
	}
	return n
}

// estimateErrors returns, for every fan that had an estimate at its join
// and was seen admitted, the absolute relative error of that estimate
// against the wait it really had: |estimate - wait| / max(wait, 1s).
func (c *checker) estimateErrors() (errs []float64, waits []float64) {
	for _, f := range c.fans {
		if f.est < 0 || f.waited < 0 {
			continue
		}
		w := float64(f.waited)
		errs = append(errs, math.Abs(float64(f.est)-w)/max(w, 1))
		waits = append(waits, w)
	}
	return errs, waits
}

// invalidPasses counts admitted fans whose pass the server did not verify.
func (c *checker) invalidPasses() int {
	n := 0
	for _, f := range c.fans {
		if f.rank >= 0 && !f.passOK {
			n++
		}
	}
	return n
}

// inversions counts pairs of admitted fans (a, b) where a's join was
// answered before b's was sent, yet b was admitted before a. It runs in
// O(n log n): fans are taken in order of sending; before each, every fan
// answered earlier enters a Fenwick tree over ranks, which then tells how
// many of them were admitted later than it.
func inversions(fans []fan) int64 {
	var in []int32
	for i, f := range fans {
		if f.rank >= 0 && f.acked >= 0 {
			in = append(in, int32(i))
		}
	}
	bySent := slices.Clone(in)
	slices.SortFunc(bySent, func(a, b int32) int { return cmp.Compare(fans[a].sent, fans[b].sent) })
	byAcked := in
	slices.SortFunc(byAcked, func(a, b int32) int { return cmp.Compare(fans[a].acked, fans[b].acked) })

	maxRank := int32(0)
	for _, i := range in {
		maxRank = max(maxRank, fans[i].rank)
	}
	tree := make(fenwick, maxRank+2)
	var n, inTree int64
	next := 0
	for _, b := range bySent {
		for next < len(byAcked) && fans[byAcked[next]].acked < fans[b].sent {
			tree.add(fans[byAcked[next]].rank)
			inTree++
			next++
		}
		n += inTree - tree.countUpTo(fans[b].rank)
	}
	return n
}

// fenwick counts ranks added, by prefix.
type fenwick []int64

func (t fenwick) add(rank int32) {
	for i := int(rank) + 1; i < len(t); i += i & -i {
		t[i]++
	}
}

// countUpTo returns how many ranks <= rank were added.
func (t fenwick) countUpTo(rank int32) int64 {
	var n int64
	for i := int(rank) + 1; i > 0; i -= i & -i {
		n += t[i]
	}
	return n
}
