// Package queuepass is the vocabulary of the QueuePass virtual waiting room:
// events, tickets, lines, admissions, the errors every layer speaks, and the
// one Store contract that every storage backend keeps.
//
// It imports nothing else from this module. The rules of the waiting room
// live in internal/waitroom; the HTTP API in internal/httpapi; the backends
// in their own packages, all checked by internal/storetest.
package queuepass

import (
	"slices"
	"time"
)

// EventState is where an event is in its lifecycle:
// scheduled → open, open ⇄ paused, any state but closed → closed.
type EventState string

// The states of an event.
const (
	StateScheduled EventState = "scheduled" // joins go to the pre-queue; no admissions
	StateOpen      EventState = "open"      // joins append to the line; admissions happen
	StatePaused    EventState = "paused"    // joins append to the line; no admissions
	StateClosed    EventState = "closed"    // final: no joins, no admissions
)

// Valid reports whether s is one of the defined states.
func (s EventState) Valid() bool {
	switch s {
	case StateScheduled, StateOpen, StatePaused, StateClosed:
		return true
	}
	return false
}

// TicketStatus is where a ticket is in its life.
type TicketStatus string

// The statuses of a ticket. Prequeue, waiting and admitted are live: a user
// holds at most one live ticket per event. The others are final.
const (
	StatusPrequeue  TicketStatus = "prequeue"  // joined a scheduled event; placed at opening
	StatusWaiting   TicketStatus = "waiting"   // in the line
	StatusAdmitted  TicketStatus = "admitted"  // holds a pass until PassExpiresAt
	StatusCompleted TicketStatus = "completed" // the protected site reported the visit done
	StatusLeft      TicketStatus = "left"      // the user left the line
	StatusExpired   TicketStatus = "expired"   // the pass ran out
	StatusClosed    TicketStatus = "closed"    // the event closed before admission
)

// Live reports whether s is prequeue, waiting or admitted.
func (s TicketStatus) Live() bool {
	return s == StatusPrequeue || s == StatusWaiting || s == StatusAdmitted
}

// Event is one waiting room, for example one ticket drop.
//
// The settings are chosen by admins. Version, Counts and RecentAdmissions
// are kept by the store and ignored when an event is written.
type Event struct {
	ID                 string
	Name               string
	State              EventState
	OpensAt            time.Time // zero: none
	ClosesAt           time.Time // zero: none
	AdmitRatePerMinute int       // 0: admissions only by admins
	MaxActive          int       // 0: unlimited
	PassTTL            time.Duration
	CreatedAt          time.Time

	// IdleTimeout is how long a waiting ticket may go unread before an
	// admission skips it as abandoned (see Ticket.Abandoned); 0: never.
	IdleTimeout time.Duration

	// Abandoned counts the event's tickets that ended abandoned (expired
	// with ReasonAbandoned). The store keeps it; UpdateEvent ignores it.
	Abandoned int

	// DrawSeed is the secret that orders the pre-queue at opening
	// (see DrawOrder). It is set once, at creation, and never changes;
	// DrawCommitment(DrawSeed) may be published before the draw, the seed
	// itself only after.
	DrawSeed [32]byte

	// DrawnAt is when the pre-queue was drawn: when the event left
	// scheduled for open or paused (Store.Draw has the draw). Zero before,
	// and for events that were never scheduled or closed before opening.
	// The store keeps it; UpdateEvent ignores it.
	DrawnAt time.Time

	// ChallengeDifficulty is the proof of work a new ticket costs: a join
	// that makes a ticket must bring a solved challenge of at least this
	// many leading zero bits (see ChallengeSolved); 0: none.
	ChallengeDifficulty int

	// Access says who may join: AccessPublic anyone, AccessByCode only
	// with an access code that has a use left. "" means AccessPublic (as
	// events stored before access existed read).
	Access Access

	// Inventory is how many units the drop has to sell; 0: not tracked.
	// Sold is the quantity that the protected site's completions have
	// taken (Store.Complete); the store keeps it, UpdateEvent ignores it.
	Inventory int
	Sold      int

	// StateReason says why the event is in its state when the state alone
	// does not: ReasonSoldOut for an event closed because its inventory
	// ran out; "" otherwise (no other value is defined). It is a setting,
	// written with the state. Tickets closed by the event's closing carry
	// it as their StatusReason.
	StateReason StatusReason

	// Codes sums up the event's access codes. The store keeps it.
	Codes CodeCounts

	// Version increases by one with every stored change to the event's
	// settings; UpdateEvent uses it to detect concurrent writers.
	Version uint64

	// Counts are the event's tickets by status, as of the last change.
	Counts Counts

	// RecentAdmissions are the latest admission batches, oldest first; at most
	// MaxRecentAdmissions are kept.
	RecentAdmissions []AdmissionBatch
}

// Remaining is the inventory left to sell, never negative; ok is false
// when the event tracks no inventory.
func (ev Event) Remaining() (n int, ok bool) {
	if ev.Inventory <= 0 {
		return 0, false
	}
	return max(ev.Inventory-ev.Sold, 0), true
}

// Access says who may join an event.
type Access string

// The kinds of access.
const (
	AccessPublic Access = "public" // anyone may join
	AccessByCode Access = "code"   // a join that makes a ticket needs an access code with a use left
)

// Valid reports whether a is one of the defined kinds; the zero value
// counts as AccessPublic.
func (a Access) Valid() bool { return a == "" || a == AccessPublic || a == AccessByCode }

// AccessCode is one code that lets its holders join an event whose Access
// is AccessByCode: Uses tickets at most, of which Used are made.
type AccessCode struct {
	Code string
	Uses int
	Used int
}

// CodeCounts sum up an event's access codes: how many there are, how many
// uses they grant in all, and how many of those are used.
type CodeCounts struct {
	Codes int
	Uses  int
	Used  int
}

// JoinProof is what a join offers towards a new ticket in an event that
// asks for it. The store checks and spends it in the same atomic step that
// makes the ticket, and only then: a join that finds the user's live
// ticket spends nothing, and a join that fails spends nothing.
type JoinProof struct {
	// Challenge identifies a solved proof-of-work challenge (at most
	// MaxProofChallenge bytes), which the caller has checked: issued for this event,
	// unexpired, solved to the event's ChallengeDifficulty. The store makes
	// sure each is spent once: it remembers it as spent at least until
	// ChallengeExpires. "" offers none.
	Challenge        string
	ChallengeExpires time.Time

	// Code is an access code; "" offers none.
	Code string
}

// MaxProofChallenge is the longest JoinProof.Challenge a store spends;
// a longer one fails with ErrChallengeFailed.
const MaxProofChallenge = 64

// MaxRecentAdmissions is how many admission batches a store keeps per event.
const MaxRecentAdmissions = 256

// AdmissionBatch is one admission step that admitted at least one ticket.
type AdmissionBatch struct {
	At    time.Time
	Count int

	// MedianWait is the median of the admitted tickets' waits
	// (AdmittedAt - JoinedAt), the lower of the two middle ones for an even
	// Count. Batches recorded before stores kept it read as 0.
	MedianWait time.Duration
}

// MedianWait returns the median of waits, the lower of the two middle
// ones for an even number; 0 for none. It sorts waits in place.
func MedianWait(waits []time.Duration) time.Duration {
	if len(waits) == 0 {
		return 0
	}
	slices.Sort(waits)
	return waits[(len(waits)-1)/2]
}

// Counts are an event's tickets by status. Their sum is the number of
// tickets ever created for the event. Admitted includes passes that have run
// out but that no store step has expired yet.
type Counts struct {
	Prequeue  int
	Waiting   int
	Admitted  int
	Completed int
	Left      int
	Expired   int
	Closed    int
}

// Total is the number of tickets ever created.
func (c Counts) Total() int {
	return c.Prequeue + c.Waiting + c.Admitted + c.Completed + c.Left + c.Expired + c.Closed
}

// Ticket is one user's place in one event's line.
type Ticket struct {
	ID       string // opaque and unguessable; the holder's credential (see NewTicketID)
	EventID  string
	UserID   string // NFC-normalized
	Status   TicketStatus
	JoinedAt time.Time

	// Position is 1 + the number of waiting tickets ahead, while the ticket
	// is waiting; 0 otherwise.
	Position int

	AdmittedAt    time.Time // zero until admitted
	PassExpiresAt time.Time // zero until admitted
	EndedAt       time.Time // when the ticket reached a final status; zero while live

	// StatusReason says why a final status was reached when the status alone
	// does not: ReasonRevoked for an expired ticket whose pass an admin
	// revoked, ReasonAbandoned for one skipped as gone, the event's
	// StateReason (ReasonSoldOut) for a ticket closed by the event's
	// closing; "" otherwise.
	StatusReason StatusReason

	// LastSeen is when the holder was last recorded reading the ticket
	// (Store.Touch); zero if never. Stores record it coarsely, so it may lag
	// the last read by up to SeenGranularity.
	LastSeen time.Time
}

// Abandoned reports whether a waiting ticket counts as gone at at under the
// event's idle timeout: timeout is positive and LastSeen (JoinedAt if never
// seen, or if later) + timeout <= at.
func (t Ticket) Abandoned(timeout time.Duration, at time.Time) bool {
	if timeout <= 0 {
		return false
	}
	seen := t.JoinedAt
	if t.LastSeen.After(seen) {
		seen = t.LastSeen
	}
	return !seen.Add(timeout).After(at)
}

// MinSeenGranularity is the least interval between two recorded reads of
// one ticket.
const MinSeenGranularity = 5 * time.Second

// SeenGranularity is how stale a ticket's recorded LastSeen may get before
// a read records it again (Store.Touch): a quarter of the idle timeout, at
// least MinSeenGranularity. Reads in between cost no write, and a holder
// who keeps reading is never older than this in the store's eyes, well
// within the timeout.
func SeenGranularity(idleTimeout time.Duration) time.Duration {
	return max(idleTimeout/4, MinSeenGranularity)
}

// NeedsTouch reports whether a read of t at at should be recorded with
// Store.Touch: t is waiting or prequeue, the event has an idle timeout, and
// the last recorded read (or the join) is at least SeenGranularity old.
func (t Ticket) NeedsTouch(idleTimeout time.Duration, at time.Time) bool {
	if idleTimeout <= 0 || (t.Status != StatusWaiting && t.Status != StatusPrequeue) {
		return false
	}
	seen := t.JoinedAt
	if t.LastSeen.After(seen) {
		seen = t.LastSeen
	}
	return at.Sub(seen) >= SeenGranularity(idleTimeout)
}

// StatusReason says why a ticket reached its final status.
type StatusReason string

// The reasons a ticket can carry.
const (
	ReasonRevoked   StatusReason = "revoked"   // expired: an admin revoked the pass (Store.Revoke)
	ReasonAbandoned StatusReason = "abandoned" // expired: unread for the event's IdleTimeout while waiting
	ReasonSoldOut   StatusReason = "sold_out"  // closed: the event's inventory ran out (also the event's StateReason)
)

// Admission is the result of one admission step.
type Admission struct {
	Tickets []Ticket // admitted, in line order
	Waiting int      // tickets still waiting afterwards
}
