package queuepass

import (
	"context"
	"time"
)

// Store keeps events, their lines and tickets. It offers atomic steps, not
// policy: the waiting room (internal/waitroom) decides when and how much to
// admit, which transitions are allowed and how long passes last; a store
// makes each step atomic and durable, whatever the number of processes
// sharing it. Every step that records time takes it as an argument (at); a
// store never reads the clock on its own.
//
// A call that returns without error has made its change durable in the
// store's own terms (the embedded store: on disk; Redis: as Redis' persistence
// settings promise). A store answers ErrUnavailable, wrapped, when it cannot
// be reached. All methods are safe for concurrent use.
//
// internal/storetest checks every promise made here; run it on any new
// backend.
type Store interface {
	// CreateEvent stores a new event with Version 1 and what the store
	// keeps empty (Counts, Abandoned, RecentAdmissions, DrawnAt, Sold,
	// Codes), and returns it as stored. It fails with ErrEventExists
	// if the ID is taken. Events are listed in creation order.
	CreateEvent(ctx context.Context, ev Event) (Event, error)

	// Event returns the event with its current Counts and RecentAdmissions,
	// or ErrEventNotFound.
	Event(ctx context.Context, id string) (Event, error)

	// Events returns at most limit events in creation order, starting after
	// the event with ID after ("" starts from the first). An after that names
	// no event (for example a deleted one) fails with ErrEventNotFound.
	Events(ctx context.Context, after string, limit int) ([]Event, error)

	// UpdateEvent replaces the settings of the stored event with ev's (ID,
	// CreatedAt, DrawSeed and Abandoned never change) if the stored Version is still
	// ev.Version, and returns the event as stored, with Version increased by
	// one. A stale Version fails with ErrConflict; an unknown event with
	// ErrEventNotFound. The store does not judge whether a transition is
	// allowed; it carries out its effects in the same atomic step:
	//   - scheduled → open or paused: every prequeue ticket becomes waiting,
	//     placed ahead of all later joins in the order DrawOrder(ev.DrawSeed,
	//     ids) gives, and the draw is recorded for Draw, with DrawnAt = at
	//     (also when the pre-queue is empty). A store whose opening is two
	//     steps (it reads the pre-queue, then applies the draw) may take
	//     joins in between: their prequeue tickets joined after the opening
	//     began, so they are not in the draw and follow the drawn tickets in
	//     the order they joined, ahead of later joins.
	//   - any state → closed: every prequeue and waiting ticket becomes
	//     closed, with EndedAt = at and StatusReason = ev.StateReason.
	// The settings it writes are Name, State, StateReason, OpensAt,
	// ClosesAt, AdmitRatePerMinute, MaxActive, PassTTL, IdleTimeout,
	// ChallengeDifficulty, Access and Inventory; CreateEvent stores the
	// same, with ID, CreatedAt and DrawSeed.
	UpdateEvent(ctx context.Context, ev Event, at time.Time) (Event, error)

	// Draw returns the draw recorded when the event left scheduled: the
	// DrawHash of every ticket of its pre-queue then, in draw order (which
	// was their order in the line). An event whose draw is not made
	// (DrawnAt zero) returns nil; an unknown one fails with
	// ErrEventNotFound.
	Draw(ctx context.Context, eventID string) ([][32]byte, error)

	// DeleteEvent removes the event and all its tickets, or fails with
	// ErrEventNotFound.
	DeleteEvent(ctx context.Context, id string) error

	// Join returns the user's live ticket in the event (prequeue, waiting or
	// admitted) with created false, or else makes a new one, joined at at,
	// with created true: prequeue while the event is scheduled, else waiting
	// at the end of the line. Concurrent joins of one user make one ticket.
	// A closed event fails with ErrEventClosed, an unknown one with
	// ErrEventNotFound.
	//
	// A new ticket must meet the event's requirements with proof, checked
	// and spent in the same atomic step, all or nothing, in this order:
	//   - ChallengeDifficulty > 0: proof.Challenge must be set
	//     (ErrChallengeRequired), at most MaxProofChallenge bytes and not
	//     spent before (ErrChallengeFailed); it is then spent, remembered
	//     at least until proof.ChallengeExpires, and never less than up to
	//     at (so joins at the same instant see it spent, whatever its
	//     expiry). The store trusts the caller to have
	//     checked the challenge itself; it only makes it single-use.
	//   - Access is AccessByCode: proof.Code must name one of the event's
	//     codes with Used < Uses (else ErrAccessDenied); its Used and the
	//     event's Codes.Used grow by one.
	// Returning a live ticket needs no proof and spends none, so however
	// many concurrent joins share one challenge or one code's last use,
	// exactly one of them makes a ticket with it.
	Join(ctx context.Context, eventID, userID string, proof JoinProof, at time.Time) (t Ticket, created bool, err error)

	// Ticket returns a ticket with its current Position, or
	// ErrTicketNotFound (also when the ID is malformed or belongs to another
	// event), or ErrEventNotFound.
	Ticket(ctx context.Context, eventID, ticketID string) (Ticket, error)

	// Leave makes a prequeue or waiting ticket left, with EndedAt = at, and
	// returns it; a left ticket is returned unchanged. Any other status fails
	// with ErrTicketNotWaiting.
	Leave(ctx context.Context, eventID, ticketID string, at time.Time) (Ticket, error)

	// Admit first expires the event's passes that ran out at or before at
	// (as ExpirePasses), then admits up to count waiting tickets in line
	// order, with AdmittedAt = at and PassExpiresAt = at + the event's
	// PassTTL, never letting the number of admitted tickets exceed the
	// event's MaxActive when it is positive. Walking the line it skips
	// every waiting ticket that is Abandoned(event's IdleTimeout, at),
	// making it expired with StatusReason ReasonAbandoned and EndedAt = at
	// (Counts: Waiting-1, Expired+1; the event's Abandoned+1), in the same
	// atomic step, so no place goes to someone who is gone. It records a batch in
	// RecentAdmissions when it admits anyone, with the MedianWait of the
	// tickets it admitted. An event that is not open fails
	// with ErrEventNotOpen. Concurrent admissions never skip, repeat or
	// over-admit a ticket.
	Admit(ctx context.Context, eventID string, count int, at time.Time) (Admission, error)

	// AdmitPaced admits at a steady rate of perMinute tickets a minute,
	// shared by every caller: however many nodes call it, and however
	// often, the event as a whole admits at that rate. Like Admit it first
	// expires due passes, admits in line order, respects MaxActive, records
	// a batch, skips abandoned tickets as Admit does, and fails with
	// ErrEventNotOpen unless the event is open.
	//
	// The pace is kept in the store as a mark M per event, in whole
	// microseconds since the Unix epoch (0 at first). In integers, with
	// T = at in microseconds, p = perMinute, U = 60 000 000 (a minute in
	// microseconds) and the credit limit B = 1 000 000 + ceil(U/p) (one
	// second's worth plus one ticket, so that the lateness of a caller's
	// step is carried over rather than lost, even at slow rates):
	//
	//	M = max(M, T − B)                   // credit never exceeds one burst
	//	n = floor((T − M)·p / U)            // tickets credited
	//	k = min(n, waiting, MaxActive headroom)
	//	M = M + ceil(k·U / p)               // spend the credit used
	//
	// and k tickets are admitted. Unused credit is kept (up to B), so
	// callers may call at any interval; perMinute < 1 admits nothing and
	// leaves M alone. Every product stays below 2^53, so Lua's doubles
	// compute it exactly too.
	AdmitPaced(ctx context.Context, eventID string, perMinute int, at time.Time) (Admission, error)

	// Touch records that the holder of a prequeue or waiting ticket read it
	// at at: LastSeen becomes at unless it is already later. Other
	// statuses are left alone. It is a write, so callers call it only when
	// Ticket.NeedsTouch says so, not on every read. It fails with
	// ErrTicketNotFound or ErrEventNotFound as Ticket does.
	Touch(ctx context.Context, eventID, ticketID string, at time.Time) error

	// Complete makes an admitted ticket whose pass is still valid at at
	// completed, with EndedAt = at, adds quantity (at least 1) to the
	// event's Sold, and returns it; a completed ticket is returned
	// unchanged, and Sold too. Any other status, or a pass that ran out,
	// fails with ErrTicketNotAdmitted, and a quantity below 1 with a
	// *ValidationError, changing nothing. Complete never changes the
	// event's state: closing a sold-out event is the caller's decision.
	Complete(ctx context.Context, eventID, ticketID string, quantity int, at time.Time) (Ticket, error)

	// Revoke makes an admitted ticket whose pass is still valid at at
	// expired, with StatusReason ReasonRevoked and EndedAt = at, freeing its
	// place at once (Counts: Admitted-1, Expired+1), and returns it; a
	// revoked ticket is returned unchanged. Any other status, or a pass that
	// ran out, fails with ErrTicketNotAdmitted.
	Revoke(ctx context.Context, eventID, ticketID string, at time.Time) (Ticket, error)

	// ExpirePasses makes every admitted ticket of the event whose pass ran
	// out at or before at expired, with EndedAt = its PassExpiresAt, and
	// returns how many it expired.
	ExpirePasses(ctx context.Context, eventID string, at time.Time) (int, error)

	// AddCodes adds access codes to the event, each with its Uses (at
	// least 1) and Used 0, and adds them to the event's Codes: all of them
	// or, if one of them exists already (or is listed twice), none,
	// failing with ErrCodeExists wrapped with a message that names it. An
	// unknown event fails with ErrEventNotFound.
	AddCodes(ctx context.Context, eventID string, codes []AccessCode) error

	// SetCodeUses sets how many joins an access code of the event grants
	// in all, and returns it as stored: its Uses become uses, or its Used
	// if that is more (a code never has fewer uses than it has made
	// tickets, however joins race with the change), and the event's
	// Codes.Uses change by as much. Uses 0 ends a code. An unknown event
	// fails with ErrEventNotFound, an unknown code with ErrCodeNotFound.
	SetCodeUses(ctx context.Context, eventID, code string, uses int) (AccessCode, error)

	// Codes returns at most limit of the event's access codes, in
	// increasing byte order of Code, starting after the code after (""
	// starts from the first; after need not exist). An unknown event fails
	// with ErrEventNotFound.
	Codes(ctx context.Context, eventID, after string, limit int) ([]AccessCode, error)

	// TakeToken takes a token from the bucket named key: a token bucket
	// that holds at most burst tokens, gains one every interval, and starts
	// full. It reports whether there was a token and, if not, how long
	// until there is one. All callers in all processes sharing the store
	// share each bucket; concurrent calls never take more tokens than the
	// bucket has. The arithmetic is TakeToken's (the function), on a mark
	// kept per key. Buckets are not records: a store may forget a full
	// bucket, and need not keep buckets across a restart.
	TakeToken(ctx context.Context, key string, interval time.Duration, burst int, at time.Time) (ok bool, retryAfter time.Duration, err error)

	// ClaimIdempotencyKey claims key for a request whose content hashes to
	// fingerprint. If the key is new it is recorded (at is its creation
	// time) and claimed is true. Otherwise claimed is false and rec is what
	// is known: rec.Done is false while the claiming request is still
	// running.
	ClaimIdempotencyKey(ctx context.Context, key string, fingerprint [32]byte, at time.Time) (rec IdempotencyRecord, claimed bool, err error)

	// FinishIdempotencyKey stores the response of the request that claimed
	// key, to be replayed to later requests with the same key.
	FinishIdempotencyKey(ctx context.Context, key string, resp IdempotencyRecord) error

	// ReleaseIdempotencyKey forgets a claimed key whose request ended
	// without a response worth replaying, so that it can be retried.
	ReleaseIdempotencyKey(ctx context.Context, key string) error

	// PurgeIdempotencyKeys forgets keys created before before.
	PurgeIdempotencyKeys(ctx context.Context, before time.Time) error

	// Watch returns a channel that receives a value soon after any change
	// to the event eventID, its line or its tickets is made, by this store
	// handle or by any other process sharing the store: every change made
	// after Watch returns is signalled, at least once. Signals are
	// coalesced: the channel has a buffer of one and the store never waits
	// for the watcher (a signal sent while one is pending is dropped), so a
	// watcher reads the state again after each receive rather than count
	// them. A signal may also come without a change (for example after the
	// store reconnects, when it cannot know what it missed). Whether the
	// event exists does not matter: an event created later is watched too.
	//
	// The channel is closed once ctx ends or the store is closed, and not
	// before. Watch fails, wrapping ErrUnavailable, if the store is closed or
	// cannot start watching before ctx ends.
	Watch(ctx context.Context, eventID string) (<-chan struct{}, error)

	// Ping reports whether the store can serve requests.
	Ping(ctx context.Context) error

	// Close releases the store. Calls after Close fail with ErrUnavailable.
	Close() error
}

// IdempotencyRecord is what a store remembers of one Idempotency-Key.
type IdempotencyRecord struct {
	Fingerprint [32]byte
	CreatedAt   time.Time
	Done        bool              // the response below is final
	Status      int               // HTTP status of the first response
	Header      map[string]string // the headers worth replaying (e.g. Location)
	Body        []byte
}
