package boltstore

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/queuepass/queuepass"
)

// The file's layout. Top-level buckets:
//
//	events    a bucket per event ID, holding:
//	            meta       eventMeta as JSON
//	            recent     the RecentAdmissions, binary
//	            draw       the recorded draw: its DrawHashes, 32 bytes each, in draw order
//	            tickets    bucket: number (8 bytes, big-endian) → ticketRec
//	            line       bucket: slot (8 bytes) → number (8 bytes); waiting tickets only
//	            prequeue   bucket: number → empty; prequeue tickets in join order
//	            passes     bucket: PassExpiresAt (12 bytes) ‖ number → empty; admitted tickets
//	            codes      bucket: access code → uvarint Uses ‖ uvarint Used
//	            spent      bucket: spent challenge → the expiry it is kept until (12 bytes)
//	            spenttime  bucket: that expiry (12 bytes) ‖ challenge → empty
//	order     creation sequence (8 bytes) → event ID
//	idem      Idempotency-Key → IdempotencyRecord as JSON
//	idemtime  CreatedAt (12 bytes) ‖ key → empty
//
// Ticket numbers and slots count up from 1 per event, so the hot buckets
// grow at their end, where bbolt appends cheaply. The draw exists once the
// event left scheduled; codes, spent and spenttime are made when first
// written, so events that never asked for proof (and events written before
// these existed) have none.
var (
	bucketEvents   = []byte("events")
	bucketOrder    = []byte("order")
	bucketIdem     = []byte("idem")
	bucketIdemTime = []byte("idemtime")

	keyMeta         = []byte("meta")
	keyRecent       = []byte("recent")
	keyDraw         = []byte("draw")
	bucketTickets   = []byte("tickets")
	bucketLine      = []byte("line")
	bucketPrequeue  = []byte("prequeue")
	bucketPasses    = []byte("passes")
	bucketCodes     = []byte("codes")
	bucketSpent     = []byte("spent")
	bucketSpentTime = []byte("spenttime")
)

// appendFill is the bbolt fill percent for buckets whose keys only grow:
// pages split nearly full instead of half full.
const appendFill = 0.95

// eventMeta is everything the store keeps about an event except what has
// keys of its own: its tickets, access codes, spent challenges and draw.
// It is stored as JSON; RecentAdmissions is stored apart (key recent)
// because it is large and changes only when Admit admits.
type eventMeta struct {
	queuepass.Event

	Seq        uint64 // creation order
	LastNumber uint64 // the last ticket number handed out
	LastSlot   uint64 // the last line slot handed out

	// The first closing of an event closes its prequeue and waiting tickets
	// lazily, in O(1): a ticket numbered below ClosedBelow that is stored
	// as prequeue or waiting is closed, with EndedAt = ClosedAt and
	// StatusReason = ClosedReason (the StateReason it closed with).
	ClosedBelow  uint64
	ClosedAt     time.Time
	ClosedReason queuepass.StatusReason `json:",omitempty"`

	// PaceMark is AdmitPaced's pacing mark, in microseconds since the Unix
	// epoch; records written before it existed read as 0, a fresh mark.
	PaceMark int64 `json:",omitempty"`

	// SpentDue is the earliest expiry among the event's remembered spent
	// challenges (zero: none), so that joins forget spent challenges only
	// when some are due, without a lookup otherwise.
	SpentDue time.Time `json:",omitzero"`
}

func (m *eventMeta) marshal() ([]byte, error) {
	c := *m
	c.RecentAdmissions = nil
	return json.Marshal(&c)
}

func unmarshalMeta(data []byte) (eventMeta, error) {
	var m eventMeta
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("corrupt event record: %w", err)
	}
	return m, nil
}

// recentFormat2 starts admission histories that keep each batch's median
// wait. Histories written before start with a time's flag byte, 0 or 1.
const recentFormat2 = 2

// marshalRecent encodes admission batches as recentFormat2, then (time,
// uvarint count, uvarint median wait in nanoseconds) triples.
func marshalRecent(batches []queuepass.AdmissionBatch) []byte {
	b := make([]byte, 0, 1+len(batches)*18)
	b = append(b, recentFormat2)
	for _, a := range batches {
		b = appendTime(b, a.At)
		b = binary.AppendUvarint(b, uint64(a.Count))
		b = binary.AppendUvarint(b, uint64(max(a.MedianWait, 0)))
	}
	return b
}

// unmarshalRecent decodes what marshalRecent wrote, or the older (time,
// uvarint count) pairs, whose median waits read as 0.
func unmarshalRecent(data []byte) ([]queuepass.AdmissionBatch, error) {
	var out []queuepass.AdmissionBatch
	d := decoder{b: data}
	withMedian := len(data) > 0 && data[0] == recentFormat2
	if withMedian {
		d.b = d.b[1:]
	}
	for len(d.b) > 0 && d.err == nil {
		a := queuepass.AdmissionBatch{At: d.time(), Count: int(d.uvarint())}
		if withMedian {
			a.MedianWait = time.Duration(d.uvarint())
		}
		out = append(out, a)
	}
	if d.err != nil {
		return nil, fmt.Errorf("corrupt admission history: %w", d.err)
	}
	return out, nil
}

// ticketRec is a stored ticket. Its ID is NewTicketID(number, secret),
// its number is its key.
type ticketRec struct {
	status   queuepass.TicketStatus
	secret   [queuepass.TicketSecretSize]byte
	slot     uint64 // its place in the line once it has been waiting; 0 before
	userID   string
	joined   time.Time
	admitted time.Time
	passExp  time.Time
	ended    time.Time
	reason   queuepass.StatusReason
	seen     time.Time // Ticket.LastSeen; zero until Touch
}

// statuses lists ticket statuses by their stored code; never reorder it.
var statuses = [...]queuepass.TicketStatus{
	queuepass.StatusPrequeue,
	queuepass.StatusWaiting,
	queuepass.StatusAdmitted,
	queuepass.StatusCompleted,
	queuepass.StatusLeft,
	queuepass.StatusExpired,
	queuepass.StatusClosed,
}

func statusCode(s queuepass.TicketStatus) byte {
	for i, st := range statuses {
		if st == s {
			return byte(i)
		}
	}
	panic("boltstore: unknown ticket status " + string(s))
}

// reasons lists status reasons by their stored code; never reorder it.
var reasons = [...]queuepass.StatusReason{
	"",
	queuepass.ReasonRevoked,
	queuepass.ReasonAbandoned,
	queuepass.ReasonSoldOut,
}

// reasonCode returns the stored code of s. The store writes only the
// reasons it sets itself and StateReasons that checkSettings let through,
// so an unknown one is a bug.
func reasonCode(s queuepass.StatusReason) byte {
	for i, r := range reasons {
		if r == s {
			return byte(i)
		}
	}
	panic("boltstore: unknown status reason " + string(s))
}

// The ticket record formats: ticketFormat has no reason, ticketFormat2
// adds a reason code after the status, ticketFormat3 adds to that a fifth
// time, LastSeen, after the other four. A ticket is written in the oldest
// format that holds it, so records without a reason or a LastSeen read as
// before either existed.
const (
	ticketFormat  = 1
	ticketFormat2 = 2
	ticketFormat3 = 3
)

// marshal encodes r as: format, status, [reason,] secret, uvarint slot,
// four times [, LastSeen], then the user ID to the end.
func (r *ticketRec) marshal() []byte {
	b := make([]byte, 0, 3+len(r.secret)+10+5*11+len(r.userID))
	switch {
	case !r.seen.IsZero():
		b = append(b, ticketFormat3, statusCode(r.status), reasonCode(r.reason))
	case r.reason != "":
		b = append(b, ticketFormat2, statusCode(r.status), reasonCode(r.reason))
	default:
		b = append(b, ticketFormat, statusCode(r.status))
	}
	b = append(b, r.secret[:]...)
	b = binary.AppendUvarint(b, r.slot)
	for _, t := range [...]time.Time{r.joined, r.admitted, r.passExp, r.ended} {
		b = appendTime(b, t)
	}
	if !r.seen.IsZero() {
		b = appendTime(b, r.seen)
	}
	return append(b, r.userID...)
}

func unmarshalTicket(data []byte) (ticketRec, error) {
	var r ticketRec
	if len(data) < 2 || int(data[1]) >= len(statuses) {
		return r, errors.New("corrupt ticket record")
	}
	r.status = statuses[data[1]]
	head := 2
	switch data[0] {
	case ticketFormat:
	case ticketFormat2, ticketFormat3:
		if len(data) < 3 || int(data[2]) >= len(reasons) {
			return r, errors.New("corrupt ticket record")
		}
		r.reason = reasons[data[2]]
		head = 3
	default:
		return r, errors.New("corrupt ticket record")
	}
	if len(data) < head+len(r.secret) {
		return r, errors.New("corrupt ticket record")
	}
	copy(r.secret[:], data[head:])
	d := decoder{b: data[head+len(r.secret):]}
	r.slot = d.uvarint()
	r.joined = d.time()
	r.admitted = d.time()
	r.passExp = d.time()
	r.ended = d.time()
	if data[0] == ticketFormat3 {
		r.seen = d.time()
	}
	if d.err != nil {
		return r, fmt.Errorf("corrupt ticket record: %w", d.err)
	}
	r.userID = string(d.b)
	return r, nil
}

// marshalCode encodes an access code's record: uvarint Uses, uvarint
// Used. The code itself is the key.
func marshalCode(c queuepass.AccessCode) []byte {
	b := make([]byte, 0, 2*binary.MaxVarintLen64)
	b = binary.AppendUvarint(b, uint64(c.Uses))
	return binary.AppendUvarint(b, uint64(c.Used))
}

func unmarshalCode(code string, data []byte) (queuepass.AccessCode, error) {
	d := decoder{b: data}
	c := queuepass.AccessCode{Code: code, Uses: int(d.uvarint()), Used: int(d.uvarint())}
	if d.err != nil || len(d.b) > 0 {
		return c, fmt.Errorf("corrupt access code %q", code)
	}
	return c, nil
}

// marshalDraw encodes a draw as its hashes one after another.
func marshalDraw(hashes [][sha256.Size]byte) []byte {
	b := make([]byte, 0, len(hashes)*sha256.Size)
	for _, h := range hashes {
		b = append(b, h[:]...)
	}
	return b
}

// unmarshalDraw decodes what marshalDraw wrote; none reads as an empty,
// non-nil draw.
func unmarshalDraw(data []byte) ([][sha256.Size]byte, error) {
	if len(data)%sha256.Size != 0 {
		return nil, errors.New("corrupt draw record")
	}
	out := make([][sha256.Size]byte, len(data)/sha256.Size)
	for i := range out {
		copy(out[i][:], data[i*sha256.Size:])
	}
	return out, nil
}

// appendTime encodes t as 0 when zero, else 1, varint Unix seconds,
// uvarint nanoseconds. Times come back in UTC.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// decoder reads what appendTime and binary.AppendUvarint wrote; the first
// problem sticks in err.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) time() time.Time {
	if d.err != nil {
		return time.Time{}
	}
	if len(d.b) == 0 {
		d.err = errors.New("truncated time")
		return time.Time{}
	}
	flag := d.b[0]
	d.b = d.b[1:]
	if flag == 0 {
		return time.Time{}
	}
	sec, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errors.New("bad time")
		return time.Time{}
	}
	d.b = d.b[n:]
	nsec := d.uvarint()
	return time.Unix(sec, int64(nsec)).UTC()
}

// u64 encodes a number or slot as a key that sorts numerically.
func u64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v)
}

// timeKey encodes t as 12 bytes that sort in time order: Unix seconds with
// the sign bit flipped, then nanoseconds, both big-endian.
func timeKey(t time.Time) []byte {
	b := make([]byte, 0, 12)
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix())^(1<<63))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

// keyTime decodes the time at the start of a key made with timeKey.
func keyTime(k []byte) time.Time {
	sec := int64(binary.BigEndian.Uint64(k) ^ (1 << 63))
	return time.Unix(sec, int64(binary.BigEndian.Uint32(k[8:]))).UTC()
}

// passKey is the key of an admitted ticket in the passes bucket.
func passKey(exp time.Time, number uint64) []byte {
	return binary.BigEndian.AppendUint64(timeKey(exp), number)
}

// utc returns t in UTC without a monotonic reading, as it reads back.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}
