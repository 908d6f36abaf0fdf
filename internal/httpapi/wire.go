package httpapi

import (
	"cmp"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/waitroom"
)

// The JSON shapes of the API, as openapi.yaml describes them. Every field is
// always present; null stands for "none".

type eventJSON struct {
	ID                 string     `json:"id"`
	Name               string     `json:"name"`
	State              string     `json:"state"`
	OpensAt            *timestamp `json:"opens_at"`
	ClosesAt           *timestamp `json:"closes_at"`
	AdmitRatePerMinute int        `json:"admit_rate_per_minute"`
	MaxActive          int        `json:"max_active"`
	PassTTLSeconds     int        `json:"pass_ttl_seconds"`
	IdleTimeoutSeconds int        `json:"idle_timeout_seconds"`
	Waiting            int        `json:"waiting"`
	CreatedAt          *timestamp `json:"created_at"`

	StateReason         *string      `json:"state_reason"`
	ChallengeDifficulty int          `json:"challenge_difficulty"`
	Access              string       `json:"access"`
	Inventory           *int         `json:"inventory"`
	InventoryRemaining  *int         `json:"inventory_remaining"`
	Draw                *drawRefJSON `json:"draw"`
}

// drawRefJSON is what an event says of its draw: the commitment to the
// seed from its creation on, and when the draw was made.
type drawRefJSON struct {
	Commitment string     `json:"commitment"`
	DrawnAt    *timestamp `json:"drawn_at"`
}

func eventOut(ev queuepass.Event) eventJSON {
	out := eventJSON{
		ID:                 ev.ID,
		Name:               ev.Name,
		State:              string(ev.State),
		OpensAt:            ts(ev.OpensAt),
		ClosesAt:           ts(ev.ClosesAt),
		AdmitRatePerMinute: ev.AdmitRatePerMinute,
		MaxActive:          ev.MaxActive,
		PassTTLSeconds:     int(ev.PassTTL / time.Second),
		IdleTimeoutSeconds: int(ev.IdleTimeout / time.Second),
		Waiting:            ev.Counts.Waiting,
		CreatedAt:          ts(ev.CreatedAt),

		ChallengeDifficulty: ev.ChallengeDifficulty,
		Access:              string(cmp.Or(ev.Access, queuepass.AccessPublic)),
	}
	if ev.StateReason != "" {
		reason := string(ev.StateReason)
		out.StateReason = &reason
	}
	if remaining, ok := ev.Remaining(); ok {
		inventory := ev.Inventory
		out.Inventory, out.InventoryRemaining = &inventory, &remaining
	}
	// Only a scheduled event will have a draw; once drawn, it keeps it.
	if ev.State == queuepass.StateScheduled || !ev.DrawnAt.IsZero() {
		c := queuepass.DrawCommitment(ev.DrawSeed)
		out.Draw = &drawRefJSON{Commitment: hex.EncodeToString(c[:]), DrawnAt: ts(ev.DrawnAt)}
	}
	return out
}

// ticketJSON is a Ticket as the API shows it. It is the hottest response
// (every poll), so it encodes itself without reflection; openapi.yaml's
// Ticket schema, checked by every HTTP test, pins the shape.
type ticketJSON struct {
	ID                   string
	EventID              string
	UserID               string
	Status               string
	StatusReason         *string
	Position             *int
	Ahead                *int
	EstimatedWaitSeconds *int
	WaitRangeSeconds     *waitRangeJSON
	JoinedAt             *timestamp
	AdmittedAt           *timestamp
	Pass                 *string
	PassExpiresAt        *timestamp
	PollAfterSeconds     int
	LikelySoldOut        bool
}

func (t ticketJSON) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 384+len(t.UserID)+len(deref(t.Pass)))
	b = append(b, `{"id":`...)
	b = appendString(b, t.ID)
	b = append(b, `,"event_id":`...)
	b = appendString(b, t.EventID)
	b = append(b, `,"user_id":`...)
	b = appendString(b, t.UserID)
	b = append(b, `,"status":`...)
	b = appendString(b, t.Status)
	b = append(b, `,"status_reason":`...)
	if t.StatusReason == nil {
		b = append(b, "null"...)
	} else {
		b = appendString(b, *t.StatusReason)
	}
	b = append(b, `,"position":`...)
	b = appendInt(b, t.Position)
	b = append(b, `,"ahead":`...)
	b = appendInt(b, t.Ahead)
	b = append(b, `,"estimated_wait_seconds":`...)
	b = appendInt(b, t.EstimatedWaitSeconds)
	b = append(b, `,"wait_range_seconds":`...)
	if t.WaitRangeSeconds == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"low":`...)
		b = strconv.AppendInt(b, int64(t.WaitRangeSeconds.Low), 10)
		b = append(b, `,"high":`...)
		b = strconv.AppendInt(b, int64(t.WaitRangeSeconds.High), 10)
		b = append(b, '}')
	}
	b = append(b, `,"joined_at":`...)
	b = appendTime(b, t.JoinedAt)
	b = append(b, `,"admitted_at":`...)
	b = appendTime(b, t.AdmittedAt)
	b = append(b, `,"pass":`...)
	if t.Pass == nil {
		b = append(b, "null"...)
	} else {
		b = appendString(b, *t.Pass)
	}
	b = append(b, `,"pass_expires_at":`...)
	b = appendTime(b, t.PassExpiresAt)
	b = append(b, `,"poll_after_seconds":`...)
	b = strconv.AppendInt(b, int64(t.PollAfterSeconds), 10)
	b = append(b, `,"likely_sold_out":`...)
	b = strconv.AppendBool(b, t.LikelySoldOut)
	return append(b, '}'), nil
}

// waitRangeJSON is a Ticket's wait_range_seconds.
type waitRangeJSON struct {
	Low  int `json:"low"`
	High int `json:"high"`
}

func appendInt(b []byte, n *int) []byte {
	if n == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, int64(*n), 10)
}

func appendTime(b []byte, t *timestamp) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return t.appendJSON(b)
}

// appendString appends s as a JSON string. s must be valid UTF-8 (all input
// is checked to be); quotes, backslashes and control characters are escaped.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func ticketOut(v waitroom.TicketView) ticketJSON {
	t := ticketJSON{
		ID:               v.ID,
		EventID:          v.EventID,
		UserID:           v.UserID,
		Status:           string(v.Status),
		JoinedAt:         ts(v.JoinedAt),
		AdmittedAt:       ts(v.AdmittedAt),
		PollAfterSeconds: max(1, int(v.PollAfter/time.Second)),
		LikelySoldOut:    v.LikelySoldOut,
	}
	if v.StatusReason != "" {
		reason := string(v.StatusReason)
		t.StatusReason = &reason
	}
	if v.Status == queuepass.StatusWaiting && v.Position > 0 {
		pos, ahead := v.Position, v.Position-1
		t.Position, t.Ahead = &pos, &ahead
	}
	if v.EstimatedWait != nil && v.WaitRange != nil {
		// The estimate and the top of the range round up, the bottom down,
		// so low <= estimate <= high holds in whole seconds too.
		secs := ceilSeconds(*v.EstimatedWait)
		t.EstimatedWaitSeconds = &secs
		t.WaitRangeSeconds = &waitRangeJSON{
			Low:  min(secs, max(0, int(v.WaitRange.Low/time.Second))),
			High: max(secs, ceilSeconds(v.WaitRange.High)),
		}
	}
	if v.Pass != "" {
		t.Pass = &v.Pass
		t.PassExpiresAt = ts(v.PassExpiresAt)
	}
	return t
}

// ceilSeconds is d in whole seconds, rounded up, never negative.
func ceilSeconds(d time.Duration) int {
	return max(0, int((d+time.Second-1)/time.Second))
}

type admissionJSON struct {
	Admitted int            `json:"admitted"`
	Tickets  []admittedJSON `json:"tickets"`
	Waiting  int            `json:"waiting"`
}

type admittedJSON struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
}

type countsJSON struct {
	Prequeue  int `json:"prequeue"`
	Waiting   int `json:"waiting"`
	Admitted  int `json:"admitted"`
	Completed int `json:"completed"`
	Left      int `json:"left"`
	Expired   int `json:"expired"`
	Closed    int `json:"closed"`
}

type statsJSON struct {
	EventID               string     `json:"event_id"`
	State                 string     `json:"state"`
	TotalTickets          int        `json:"total_tickets"`
	Counts                countsJSON `json:"counts"`
	ActivePasses          int        `json:"active_passes"`
	AdmittedLastMinute    int        `json:"admitted_last_minute"`
	AdmittedLast10Minutes int        `json:"admitted_last_10_minutes"`
	AdmissionsPerMinute   float64    `json:"admissions_per_minute"`
	MedianWaitSeconds     *int       `json:"median_wait_seconds"`
	Abandoned             int        `json:"abandoned"`
	LastAdmissionAt       *timestamp `json:"last_admission_at"`
	Inventory             *int       `json:"inventory"`
	Sold                  int        `json:"sold"`
	InventoryRemaining    *int       `json:"inventory_remaining"`
	AccessCodes           codesJSON  `json:"access_codes"`
}

// codesJSON sums up an event's access codes.
type codesJSON struct {
	Codes int `json:"codes"`
	Uses  int `json:"uses"`
	Used  int `json:"used"`
}

func statsOut(s waitroom.Stats) statsJSON {
	c := s.Counts
	var median *int
	if s.MedianWait != nil {
		secs := max(0, int(s.MedianWait.Round(time.Second)/time.Second))
		median = &secs
	}
	out := statsJSON{
		EventID:      s.Event.ID,
		State:        string(s.Event.State),
		TotalTickets: c.Total(),
		Counts: countsJSON{
			Prequeue: c.Prequeue, Waiting: c.Waiting, Admitted: c.Admitted, Completed: c.Completed,
			Left: c.Left, Expired: c.Expired, Closed: c.Closed,
		},
		ActivePasses:          s.ActivePasses,
		AdmittedLastMinute:    s.AdmittedLastMinute,
		AdmittedLast10Minutes: s.AdmittedLast10Minutes,
		AdmissionsPerMinute:   s.AdmissionsPerMinute,
		MedianWaitSeconds:     median,
		Abandoned:             s.Abandoned,
		LastAdmissionAt:       ts(s.LastAdmissionAt),
		Sold:                  s.Event.Sold,
		AccessCodes:           codesJSON{Codes: s.Event.Codes.Codes, Uses: s.Event.Codes.Uses, Used: s.Event.Codes.Used},
	}
	if remaining, ok := s.Event.Remaining(); ok {
		inventory := s.Event.Inventory
		out.Inventory, out.InventoryRemaining = &inventory, &remaining
	}
	return out
}

type challengeJSON struct {
	Challenge  string     `json:"challenge"`
	Difficulty int        `json:"difficulty"`
	ExpiresAt  *timestamp `json:"expires_at"`
}

type accessCodeJSON struct {
	Code string `json:"code"`
	Uses int    `json:"uses"`
	Used int    `json:"used"`
}

func codesOut(codes []queuepass.AccessCode) []accessCodeJSON {
	out := make([]accessCodeJSON, len(codes))
	for i, c := range codes {
		out[i] = accessCodeJSON{Code: c.Code, Uses: c.Uses, Used: c.Used}
	}
	return out
}

type verificationJSON struct {
	Valid     bool       `json:"valid"`
	Reason    *string    `json:"reason"`
	TicketID  *string    `json:"ticket_id"`
	UserID    *string    `json:"user_id"`
	ExpiresAt *timestamp `json:"expires_at"`
}

func verificationOut(v waitroom.Verification) verificationJSON {
	if !v.Valid {
		return verificationJSON{Reason: &v.Reason}
	}
	return verificationJSON{
		Valid:     true,
		TicketID:  &v.Claims.TicketID,
		UserID:    &v.Claims.UserID,
		ExpiresAt: ts(v.Claims.ExpiresAt),
	}
}

// timestamp is a time in RFC 3339, UTC, whole seconds.
type timestamp time.Time

// ts returns t as a timestamp, or nil for the zero time.
func ts(t time.Time) *timestamp {
	if t.IsZero() {
		return nil
	}
	s := timestamp(t)
	return &s
}

func (t timestamp) MarshalJSON() ([]byte, error) {
	return t.appendJSON(make([]byte, 0, len(`"2006-01-02T15:04:05Z"`))), nil
}

func (t timestamp) appendJSON(b []byte) []byte {
	b = append(b, '"')
	b = time.Time(t).UTC().Truncate(time.Second).AppendFormat(b, time.RFC3339)
	return append(b, '"')
}

// writeJSON sends v as the response body with status. A value that encodes
// itself (ticketJSON) is written as it is: encoding/json would parse and
// compact its output again, which costs more than making it.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if m, ok := v.(json.Marshaler); ok {
		if b, err := m.MarshalJSON(); err == nil {
			w.Write(append(b, '\n'))
			return
		}
	}
	json.NewEncoder(w).Encode(v)
}
