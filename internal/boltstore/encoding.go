package boltstore

import (
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
//	            meta      eventMeta as JSON
//	            recent    the RecentAdmissions, binary
//	            tickets   bucket: number (8 bytes, big-endian) → ticketRec
//	            line      bucket: slot (8 bytes) → number (8 bytes); waiting tickets only
//	            prequeue  bucket: number → empty; prequeue tickets in join order
//	            passes    bucket: PassExpiresAt (12 bytes) ‖ number → empty; admitted tickets
//	order     creation sequence (8 bytes) → event ID
//	idem      Idempotency-Key → IdempotencyRecord as JSON
//	idemtime  CreatedAt (12 bytes) ‖ key → empty
//
// Ticket numbers and slots count up from 1 per event, so the hot buckets
// grow at their end, where bbolt appends cheaply.
var (
	bucketEvents   = []byte("events")
	bucketOrder    = []byte("order")
	bucketIdem     = []byte("idem")
	bucketIdemTime = []byte("idemtime")

	keyMeta        = []byte("meta")
	keyRecent      = []byte("recent")
	bucketTickets  = []byte("tickets")
	bucketLine     = []byte("line")
	bucketPrequeue = []byte("prequeue")
	bucketPasses   = []byte("passes")
)

// appendFill is the bbolt fill percent for buckets whose keys only grow:
// pages split nearly full instead of half full.
const appendFill = 0.95

// eventMeta is everything the store keeps about an event except its
// tickets. It is stored as JSON; RecentAdmissions is stored apart (key
// recent) because it is large and changes only when Admit admits.
type eventMeta struct {
	queuepass.Event

	Seq        uint64 // creation order
	LastNumber uint64 // the last ticket number handed out
	LastSlot   uint64 // the last line slot handed out

	// The first closing of an event closes its prequeue and waiting tickets
	// lazily, in O(1): a ticket numbered below ClosedBelow that is stored
	// as prequeue or waiting is closed, with EndedAt = ClosedAt.
	ClosedBelow uint64
	ClosedAt    time.Time

	// PaceMark is AdmitPaced's pacing mark, in microseconds since the Unix
	// epoch; records written before it existed read as 0, a fresh mark.
	PaceMark int64 `json:",omitempty"`
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

// marshalRecent encodes admission batches as (time, uvarint count) pairs.
func marshalRecent(batches []queuepass.AdmissionBatch) []byte {
	b := make([]byte, 0, len(batches)*12)
	for _, a := range batches {
		b = appendTime(b, a.At)
		b = binary.AppendUvarint(b, uint64(a.Count))
	}
	return b
}

func unmarshalRecent(data []byte) ([]queuepass.AdmissionBatch, error) {
	var out []queuepass.AdmissionBatch
	d := decoder{b: data}
	for len(d.b) > 0 && d.err == nil {
		at := d.time()
		n := d.uvarint()
		out = append(out, queuepass.AdmissionBatch{At: at, Count: int(n)})
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

const ticketFormat = 1

// marshal encodes r as: format, status, secret, uvarint slot, four times,
// then the user ID to the end.
func (r *ticketRec) marshal() []byte {
	b := make([]byte, 0, 2+len(r.secret)+10+4*11+len(r.userID))
	b = append(b, ticketFormat, statusCode(r.status))
	b = append(b, r.secret[:]...)
	b = binary.AppendUvarint(b, r.slot)
	for _, t := range [...]time.Time{r.joined, r.admitted, r.passExp, r.ended} {
		b = appendTime(b, t)
	}
	return append(b, r.userID...)
}

func unmarshalTicket(data []byte) (ticketRec, error) {
	var r ticketRec
	if len(data) < 2+len(r.secret) || data[0] != ticketFormat || int(data[1]) >= len(statuses) {
		return r, errors.New("corrupt ticket record")
	}
	r.status = statuses[data[1]]
	copy(r.secret[:], data[2:])
	d := decoder{b: data[2+len(r.secret):]}
	r.slot = d.uvarint()
	r.joined = d.time()
	r.admitted = d.time()
	r.passExp = d.time()
	r.ended = d.time()
	if d.err != nil {
		return r, fmt.Errorf("corrupt ticket record: %w", d.err)
	}
	r.userID = string(d.b)
	return r, nil
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
