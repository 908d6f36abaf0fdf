package client

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/queuepass/queuepass"
)

// Event is one waiting room as the API shows it.
type Event struct {
	ID                 string               `json:"id"`
	Name               string               `json:"name"`
	State              queuepass.EventState `json:"state"`
	OpensAt            *time.Time           `json:"opens_at"`  // nil: no opening time
	ClosesAt           *time.Time           `json:"closes_at"` // nil: no closing time
	AdmitRatePerMinute int                  `json:"admit_rate_per_minute"`
	MaxActive          int                  `json:"max_active"`
	PassTTLSeconds     int                  `json:"pass_ttl_seconds"`
	IdleTimeoutSeconds int                  `json:"idle_timeout_seconds"` // 0: tickets are never abandoned
	Waiting            int                  `json:"waiting"`
	CreatedAt          time.Time            `json:"created_at"`

	StateReason         queuepass.StatusReason `json:"state_reason"`         // "" (null), or queuepass.ReasonSoldOut for an event closed by selling out
	ChallengeDifficulty int                    `json:"challenge_difficulty"` // proof of work a new ticket costs; 0: none (see SolveChallenge)
	Access              queuepass.Access       `json:"access"`               // public, or code: joins need an access code
	Inventory           *int                   `json:"inventory"`            // nil: no inventory tracked
	InventoryRemaining  *int                   `json:"inventory_remaining"`
	Draw                *DrawRef               `json:"draw"` // nil unless the event was scheduled: it then has a draw
}

// DrawRef is what an event says of its pre-queue draw: the commitment to
// the secret seed, published from the event's creation on, and when the
// draw was made (nil until the event opens; then Client.Draw has it).
type DrawRef struct {
	Commitment string     `json:"commitment"` // hex SHA-256 of the seed
	DrawnAt    *time.Time `json:"drawn_at"`
}

// CreateEventParams is the body of CreateEvent. Zero values are left out of
// the request, so the server applies its defaults: a generated ID, no
// opening or closing time (the event opens at once), admission by admins
// only, unlimited capacity and a 900-second pass.
type CreateEventParams struct {
	ID                 string     // ^[a-z0-9][a-z0-9-]{0,62}$; "" lets the server choose
	Name               string     // required, 1..200 characters
	OpensAt            *time.Time // in the future: the event starts scheduled
	ClosesAt           *time.Time
	AdmitRatePerMinute int // 0..1000000
	MaxActive          int // 0..10000000
	PassTTLSeconds     int // 30..86400; 0 means the server's default
	IdleTimeoutSeconds int // 0..86400; a waiting ticket unread this long is abandoned; 0: never

	ChallengeDifficulty int              // 0..32 leading zero bits of proof of work per new ticket; 0: none
	Access              queuepass.Access // "" or queuepass.AccessPublic: anyone; queuepass.AccessByCode: joins need an access code
	Inventory           int              // units for sale; 0: none tracked
}

// MarshalJSON encodes p as the API expects, times in UTC to the second.
func (p CreateEventParams) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID                 string    `json:"id,omitempty"`
		Name               string    `json:"name"`
		OpensAt            *wireTime `json:"opens_at,omitempty"`
		ClosesAt           *wireTime `json:"closes_at,omitempty"`
		AdmitRatePerMinute int       `json:"admit_rate_per_minute,omitempty"`
		MaxActive          int       `json:"max_active,omitempty"`
		PassTTLSeconds     int       `json:"pass_ttl_seconds,omitempty"`
		IdleTimeoutSeconds int       `json:"idle_timeout_seconds,omitempty"`

		ChallengeDifficulty int              `json:"challenge_difficulty,omitempty"`
		Access              queuepass.Access `json:"access,omitempty"`
		Inventory           int              `json:"inventory,omitempty"`
	}{
		ID:                 p.ID,
		Name:               p.Name,
		OpensAt:            toWireTime(p.OpensAt),
		ClosesAt:           toWireTime(p.ClosesAt),
		AdmitRatePerMinute: p.AdmitRatePerMinute,
		MaxActive:          p.MaxActive,
		PassTTLSeconds:     p.PassTTLSeconds,
		IdleTimeoutSeconds: p.IdleTimeoutSeconds,

		ChallengeDifficulty: p.ChallengeDifficulty,
		Access:              p.Access,
		Inventory:           p.Inventory,
	})
}

// EventPatch is a JSON merge patch (RFC 7396) of an event's settings for
// UpdateEvent. A nil field is left unchanged. OpensAt and ClosesAt can also
// be cleared (sent as null) with ClearOpensAt and ClearClosesAt; setting a
// time and clearing it in one patch is an error.
type EventPatch struct {
	Name               *string
	State              *queuepass.EventState
	OpensAt            *time.Time
	ClearOpensAt       bool
	ClosesAt           *time.Time
	ClearClosesAt      bool
	AdmitRatePerMinute *int
	MaxActive          *int
	PassTTLSeconds     *int
	IdleTimeoutSeconds *int // 0 turns abandonment off

	ChallengeDifficulty *int
	Access              *queuepass.Access
	Inventory           *int // 0 clears it (sent as null): no inventory tracked
}

// MarshalJSON encodes p as a merge patch. It fails if a time is both set
// and cleared.
func (p EventPatch) MarshalJSON() ([]byte, error) {
	m := make(map[string]any)
	if p.Name != nil {
		m["name"] = *p.Name
	}
	if p.State != nil {
		m["state"] = *p.State
	}
	if err := patchTime(m, "opens_at", p.OpensAt, p.ClearOpensAt); err != nil {
		return nil, err
	}
	if err := patchTime(m, "closes_at", p.ClosesAt, p.ClearClosesAt); err != nil {
		return nil, err
	}
	if p.AdmitRatePerMinute != nil {
		m["admit_rate_per_minute"] = *p.AdmitRatePerMinute
	}
	if p.MaxActive != nil {
		m["max_active"] = *p.MaxActive
	}
	if p.PassTTLSeconds != nil {
		m["pass_ttl_seconds"] = *p.PassTTLSeconds
	}
	if p.IdleTimeoutSeconds != nil {
		m["idle_timeout_seconds"] = *p.IdleTimeoutSeconds
	}
	if p.ChallengeDifficulty != nil {
		m["challenge_difficulty"] = *p.ChallengeDifficulty
	}
	if p.Access != nil {
		m["access"] = *p.Access
	}
	if p.Inventory != nil {
		if *p.Inventory == 0 {
			m["inventory"] = nil
		} else {
			m["inventory"] = *p.Inventory
		}
	}
	return json.Marshal(m)
}

func patchTime(m map[string]any, name string, t *time.Time, clear bool) error {
	switch {
	case t != nil && clear:
		return fmt.Errorf("client: patch both sets and clears %s", name)
	case clear:
		m[name] = nil
	case t != nil:
		m[name] = toWireTime(t)
	}
	return nil
}

// wireTime encodes a time the way the API writes it: RFC 3339 in UTC with
// second precision.
type wireTime time.Time

func toWireTime(t *time.Time) *wireTime {
	if t == nil {
		return nil
	}
	w := wireTime(*t)
	return &w
}

func (t wireTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Time(t).UTC().Format(time.RFC3339))
}

// ListOptions selects one page of ListEvents.
type ListOptions struct {
	Limit  int    // 1..200; 0 means the server's default (50)
	Cursor string // from EventPage.NextCursor; "" starts at the first event
}

// EventPage is one page of events in creation order.
type EventPage struct {
	Events     []Event `json:"events"`
	NextCursor string  `json:"next_cursor"` // "" (null) on the last page
}

// Counts are an event's tickets by status; their sum is the number of
// tickets ever created.
type Counts struct {
	Prequeue  int `json:"prequeue"`
	Waiting   int `json:"waiting"`
	Admitted  int `json:"admitted"`
	Completed int `json:"completed"`
	Left      int `json:"left"`
	Expired   int `json:"expired"`
	Closed    int `json:"closed"`
}

// Stats describe an event's line and admissions.
type Stats struct {
	EventID               string               `json:"event_id"`
	State                 queuepass.EventState `json:"state"`
	TotalTickets          int                  `json:"total_tickets"`
	Counts                Counts               `json:"counts"`
	ActivePasses          int                  `json:"active_passes"`
	AdmittedLastMinute    int                  `json:"admitted_last_minute"`
	AdmittedLast10Minutes int                  `json:"admitted_last_10_minutes"`
	AdmissionsPerMinute   float64              `json:"admissions_per_minute"` // observed over the last 10 minutes
	MedianWaitSeconds     *int                 `json:"median_wait_seconds"`   // of the tickets admitted in the last 10 minutes; nil: none were
	Abandoned             int                  `json:"abandoned"`             // tickets that ended abandoned (also in Counts.Expired)
	LastAdmissionAt       *time.Time           `json:"last_admission_at"`
	Inventory             *int                 `json:"inventory"` // nil: none tracked
	Sold                  int                  `json:"sold"`      // the quantities of completions
	InventoryRemaining    *int                 `json:"inventory_remaining"`
	AccessCodes           CodeCounts           `json:"access_codes"`
}

// CodeCounts sum up an event's access codes.
type CodeCounts struct {
	Codes int `json:"codes"`
	Uses  int `json:"uses"` // joins they allow in all
	Used  int `json:"used"`
}

// AccessCode is one code that lets Uses joins in to an event with access
// "code"; Used of them are made.
type AccessCode struct {
	Code string `json:"code"`
	Uses int    `json:"uses"`
	Used int    `json:"used"`
}

// CodePage is one page of an event's access codes in code order.
type CodePage struct {
	Codes      []AccessCode `json:"codes"`
	NextCursor string       `json:"next_cursor"` // "" (null) on the last page
}

// Challenge is a proof-of-work challenge for one join (Client.Challenge);
// Solve it and join with the Proof.
type Challenge struct {
	Challenge  string    `json:"challenge"`
	Difficulty int       `json:"difficulty"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// Proof is a solved challenge, for JoinParams.
type Proof struct {
	Challenge string
	Nonce     string
}

// Solve finds the nonce that solves c (about 2^Difficulty SHA-256 hashes;
// a 20-bit challenge takes a fraction of a second on one core). It stops
// with ctx's error when ctx ends.
func (c Challenge) Solve(ctx context.Context) (Proof, error) {
	nonce, err := queuepass.SolveChallenge(ctx, c.Challenge, c.Difficulty)
	return Proof{Challenge: c.Challenge, Nonce: nonce}, err
}

// JoinParams is the body of JoinWith.
type JoinParams struct {
	UserID     string `json:"user_id"`
	Challenge  string `json:"challenge,omitempty"` // with Nonce: a solved challenge (Proof), where the event asks for proof of work
	Nonce      string `json:"nonce,omitempty"`
	AccessCode string `json:"access_code,omitempty"` // where the event's access is "code"
}

// Draw is an opened event's published pre-queue draw. Verify checks it.
type Draw struct {
	EventID    string    `json:"event_id"`
	Algorithm  string    `json:"algorithm"`
	Commitment string    `json:"commitment"` // hex SHA-256 of the seed, as the event showed it before opening
	Seed       string    `json:"seed"`       // hex, 32 bytes
	DrawnAt    time.Time `json:"drawn_at"`
	Entrants   int       `json:"entrants"`
	Order      []string  `json:"order"` // hex SHA-256 of each entrant's ticket ID, in draw order
}

// Verify checks the draw as anyone can: that Seed is the one Commitment
// committed to, and that Order is exactly what the seed gives for its
// entrants (queuepass.VerifyDraw), each listed once. It fails with
// queuepass.ErrDrawCommitment or queuepass.ErrDrawOrder (wrapped), or
// when a field is not the hex it should be.
func (d Draw) Verify() error {
	commitment, seed, order, err := d.decode()
	if err != nil {
		return err
	}
	return queuepass.VerifyDraw(commitment, seed, order)
}

// Place returns the 1-based place of ticketID in the draw, or 0 if it was
// not drawn.
func (d Draw) Place(ticketID string) int {
	h := queuepass.DrawHash(ticketID)
	want := hex.EncodeToString(h[:])
	for i, o := range d.Order {
		if o == want {
			return i + 1
		}
	}
	return 0
}

func (d Draw) decode() (commitment, seed [32]byte, order [][32]byte, err error) {
	for _, f := range []struct {
		name string
		hex  string
		dst  *[32]byte
	}{{"commitment", d.Commitment, &commitment}, {"seed", d.Seed, &seed}} {
		if b, err := hex.DecodeString(f.hex); err != nil || len(b) != 32 {
			return commitment, seed, nil, fmt.Errorf("client: draw %s %q is not 32 bytes of hex", f.name, f.hex)
		} else {
			copy(f.dst[:], b)
		}
	}
	if d.Entrants != len(d.Order) {
		return commitment, seed, nil, fmt.Errorf("client: draw says %d entrants but lists %d", d.Entrants, len(d.Order))
	}
	order = make([][32]byte, len(d.Order))
	for i, o := range d.Order {
		b, err := hex.DecodeString(o)
		if err != nil || len(b) != 32 {
			return commitment, seed, nil, fmt.Errorf("client: draw place %d %q is not 32 bytes of hex", i+1, o)
		}
		copy(order[i][:], b)
	}
	return commitment, seed, order, nil
}

// Ticket is one user's place in one event's line. Its ID is the holder's
// credential.
type Ticket struct {
	ID                   string                 `json:"id"`
	EventID              string                 `json:"event_id"`
	UserID               string                 `json:"user_id"`
	Status               queuepass.TicketStatus `json:"status"`
	StatusReason         queuepass.StatusReason `json:"status_reason"`          // "" (null), or why a final status was reached: queuepass.ReasonRevoked, ReasonAbandoned or ReasonSoldOut
	Position             *int                   `json:"position"`               // only while waiting; 1 is next
	Ahead                *int                   `json:"ahead"`                  // Position - 1
	EstimatedWaitSeconds *int                   `json:"estimated_wait_seconds"` // nil: no basis for an estimate
	WaitRangeSeconds     *WaitRange             `json:"wait_range_seconds"`     // nil exactly when EstimatedWaitSeconds is
	JoinedAt             time.Time              `json:"joined_at"`
	AdmittedAt           *time.Time             `json:"admitted_at"`
	Pass                 string                 `json:"pass"` // "" (null) unless admitted and unexpired
	PassExpiresAt        *time.Time             `json:"pass_expires_at"`
	PollAfterSeconds     int                    `json:"poll_after_seconds"`
	LikelySoldOut        bool                   `json:"likely_sold_out"` // the inventory left would run out before this ticket's turn
}

// WaitRange is the range a wait is expected to fall in, in seconds, with
// Low <= EstimatedWaitSeconds <= High.
type WaitRange struct {
	Low  int `json:"low"`
	High int `json:"high"`
}

// Admission is the result of Admit: the tickets admitted, in line order,
// and how many still wait.
type Admission struct {
	Admitted int              `json:"admitted"`
	Tickets  []AdmittedTicket `json:"tickets"`
	Waiting  int              `json:"waiting"`
}

// AdmittedTicket names one ticket admitted by Admit.
type AdmittedTicket struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
}

// Reasons a pass is not valid, in Verification.Reason.
const (
	ReasonMalformed            = "malformed"
	ReasonUnsupportedAlgorithm = "unsupported_algorithm"
	ReasonUnknownKey           = "unknown_key"
	ReasonBadSignature         = "bad_signature"
	ReasonWrongEvent           = "wrong_event"
	ReasonExpired              = "expired"
	ReasonNotYetValid          = "not_yet_valid"
	ReasonCompleted            = "completed"      // the site completed the visit
	ReasonRevoked              = "revoked"        // an admin revoked the pass
	ReasonUnknownTicket        = "unknown_ticket" // the ticket (or its event) no longer exists
)

// Verification is the server's judgement of a pass for one event.
type Verification struct {
	Valid     bool       `json:"valid"`
	Reason    string     `json:"reason"`    // "" (null) when valid, else one of the Reason constants
	TicketID  string     `json:"ticket_id"` // "" (null) when the pass could not be read
	UserID    string     `json:"user_id"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// JWKS is the set of public keys that verify passes.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWK is one public key of a JWKS. QueuePass publishes Ed25519 keys
// (kty OKP, crv Ed25519, alg EdDSA).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"` // base64url, unpadded
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// Key returns the JWKS's key with the given kid, or false.
func (s JWKS) Key(kid string) (JWK, bool) {
	for _, k := range s.Keys {
		if k.Kid == kid {
			return k, true
		}
	}
	return JWK{}, false
}

// Ed25519 returns k's public key. It fails if k is not an Ed25519 key or
// its x is not 32 bytes of unpadded base64url.
func (k JWK) Ed25519() (ed25519.PublicKey, error) {
	if k.Kty != "OKP" || k.Crv != "Ed25519" {
		return nil, fmt.Errorf("client: key %q is %s/%s, not OKP/Ed25519", k.Kid, k.Kty, k.Crv)
	}
	x, err := base64.RawURLEncoding.DecodeString(k.X)
	if err != nil {
		return nil, fmt.Errorf("client: key %q: x: %w", k.Kid, err)
	}
	if len(x) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("client: key %q: x is %d bytes, want %d", k.Kid, len(x), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(x), nil
}
