package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/queuepass/queuepass"
)

// Join returns the user's live ticket or makes a new one, in one script
// call, which also checks and spends proof for a new ticket. The ticket's
// secret is drawn here and its number by the script.
func (s *Store) Join(ctx context.Context, eventID, userID string, proof queuepass.JoinProof, at time.Time) (queuepass.Ticket, bool, error) {
	if eventID == "" {
		return queuepass.Ticket{}, false, fmt.Errorf("redisstore: %w: %q", queuepass.ErrEventNotFound, eventID)
	}
	secret := queuepass.NewTicketSecret()
	code, reply, err := s.eval(ctx, "join", s.scripts.join, s.eventKeys(eventID), userID, micros(at), string(secret[:]),
		proof.Challenge, micros(proof.ChallengeExpires), proof.Code)
	if err != nil {
		return queuepass.Ticket{}, false, err
	}
	if code == codeChallengeFailed {
		return queuepass.Ticket{}, false, fmt.Errorf("redisstore: %w: spent before in event %q", queuepass.ErrChallengeFailed, eventID)
	}
	if err := codeErr(code, eventID); err != nil {
		return queuepass.Ticket{}, false, err
	}
	if len(reply) != 4 && len(reply) != 5 {
		return queuepass.Ticket{}, false, fmt.Errorf("%w: join reply of %d elements", errCorrupt, len(reply))
	}
	created, err := reply[0].AsInt64()
	if err != nil {
		return queuepass.Ticket{}, false, fmt.Errorf("%w: join reply: %w", errCorrupt, err)
	}
	number, err := reply[1].AsUint64()
	if err != nil {
		return queuepass.Ticket{}, false, fmt.Errorf("%w: join reply: %w", errCorrupt, err)
	}
	tk, err := parseTicket(eventID, number, reply[2], reply[3])
	if err == nil && len(reply) == 5 {
		tk.LastSeen, err = parseSeen(reply[4])
	}
	return tk, created == 1, err
}

// parseSeen decodes a ticket's last seen time as the scripts' seen
// returns it ("" when never seen).
func parseSeen(msg rueidis.RedisMessage) (time.Time, error) {
	s, err := msg.ToString()
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: last seen: %w", errCorrupt, err)
	}
	t, err := parseMicros(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: last seen: %w", errCorrupt, err)
	}
	return t, nil
}

// Touch records that the holder of a prequeue or waiting ticket read it at
// at, in one script call that writes only when the recorded time moves on.
func (s *Store) Touch(ctx context.Context, eventID, ticketID string, at time.Time) error {
	_, err := s.ticketStep(ctx, "touch", s.scripts.touch, eventID, ticketID, micros(at))
	return err
}

// Ticket returns a ticket with its current Position, in one script call.
func (s *Store) Ticket(ctx context.Context, eventID, ticketID string) (queuepass.Ticket, error) {
	return s.ticketStep(ctx, "ticket", s.scripts.ticket, eventID, ticketID)
}

// Leave makes a prequeue or waiting ticket left, in one script call.
func (s *Store) Leave(ctx context.Context, eventID, ticketID string, at time.Time) (queuepass.Ticket, error) {
	return s.ticketStep(ctx, "leave", s.scripts.leave, eventID, ticketID, micros(at))
}

// Complete makes an admitted ticket whose pass is still valid completed and
// adds quantity to the event's Sold, in one script call. A refused
// Complete leaves a pass that ran out as it is.
func (s *Store) Complete(ctx context.Context, eventID, ticketID string, quantity int, at time.Time) (queuepass.Ticket, error) {
	if quantity < 1 {
		ve := &queuepass.ValidationError{}
		ve.Add("quantity", "must be at least 1, not %d", quantity)
		return queuepass.Ticket{}, ve
	}
	return s.ticketStep(ctx, "complete", s.scripts.complete, eventID, ticketID, micros(at), strconv.Itoa(quantity))
}

// Revoke makes an admitted ticket whose pass is still valid expired by
// revocation, in one script call.
func (s *Store) Revoke(ctx context.Context, eventID, ticketID string, at time.Time) (queuepass.Ticket, error) {
	return s.ticketStep(ctx, "revoke", s.scripts.revoke, eventID, ticketID, micros(at))
}

// ticketStep runs a script that takes a ticket's number and secret (and
// args) and replies with the ticket's record and position. The secret is
// compared inside the script: Lua compares its interned strings by
// identity, not byte by byte.
func (s *Store) ticketStep(ctx context.Context, op string, sc *rueidis.Lua, eventID, ticketID string, args ...string) (queuepass.Ticket, error) {
	if eventID == "" {
		return queuepass.Ticket{}, fmt.Errorf("redisstore: %w: %q", queuepass.ErrEventNotFound, eventID)
	}
	number, secret, ok := queuepass.ParseTicketID(ticketID)
	if !ok {
		// Still ask whether the event exists: ErrEventNotFound comes first.
		number, secret = 0, [queuepass.TicketSecretSize]byte{}
	}
	args = append([]string{strconv.FormatUint(number, 10), string(secret[:])}, args...)
	code, reply, err := s.eval(ctx, op, sc, s.eventKeys(eventID), args...)
	if err != nil {
		return queuepass.Ticket{}, err
	}
	if err := codeErr(code, eventID); err != nil {
		return queuepass.Ticket{}, err
	}
	switch len(reply) {
	case 0: // a step that replies with its code alone (touch)
		return queuepass.Ticket{}, nil
	case 2, 3:
	default:
		return queuepass.Ticket{}, fmt.Errorf("%w: %s reply of %d elements", errCorrupt, op, len(reply))
	}
	tk, err := parseTicket(eventID, number, reply[0], reply[1])
	if err == nil && len(reply) == 3 {
		tk.LastSeen, err = parseSeen(reply[2])
	}
	return tk, err
}

// Admit expires the passes that ran out, then admits up to count waiting
// tickets within MaxActive, in one script call.
func (s *Store) Admit(ctx context.Context, eventID string, count int, at time.Time) (queuepass.Admission, error) {
	return s.admit(ctx, "admit", eventID, strconv.Itoa(max(count, 0)), micros(at), strconv.Itoa(queuepass.MaxRecentAdmissions))
}

// AdmitPaced admits at perMinute tickets a minute, shared by every caller,
// in one script call: the admit script of Admit, which also reads and
// moves the event's pacing mark (see queuepass.PaceCredit and
// queuepass.PaceSpend).
func (s *Store) AdmitPaced(ctx context.Context, eventID string, perMinute int, at time.Time) (queuepass.Admission, error) {
	return s.admit(ctx, "admit paced", eventID, "0", micros(at), strconv.Itoa(queuepass.MaxRecentAdmissions), strconv.Itoa(perMinute))
}

// admit runs the admit script with args and decodes its reply.
func (s *Store) admit(ctx context.Context, op, eventID string, args ...string) (queuepass.Admission, error) {
	if eventID == "" {
		return queuepass.Admission{}, fmt.Errorf("redisstore: %w: %q", queuepass.ErrEventNotFound, eventID)
	}
	code, reply, err := s.eval(ctx, op, s.scripts.admit, s.eventKeys(eventID), args...)
	if err != nil {
		return queuepass.Admission{}, err
	}
	if err := codeErr(code, eventID); err != nil {
		return queuepass.Admission{}, err
	}
	if len(reply)%2 != 1 {
		return queuepass.Admission{}, fmt.Errorf("%w: %s reply of %d elements", errCorrupt, op, len(reply))
	}
	waiting, err := reply[0].AsInt64()
	if err != nil {
		return queuepass.Admission{}, fmt.Errorf("%w: %s reply: %w", errCorrupt, op, err)
	}
	adm := queuepass.Admission{Waiting: int(waiting)}
	if n := len(reply) / 2; n > 0 {
		adm.Tickets = make([]queuepass.Ticket, n)
	}
	for i := range adm.Tickets {
		number, err := reply[1+2*i].AsUint64()
		if err != nil {
			return queuepass.Admission{}, fmt.Errorf("%w: %s reply: %w", errCorrupt, op, err)
		}
		tk, err := parseTicket(eventID, number, reply[2+2*i], rueidis.RedisMessage{})
		if err != nil {
			return queuepass.Admission{}, err
		}
		adm.Tickets[i] = tk
	}
	return adm, nil
}

// ExpirePasses expires the passes that ran out, in one script call.
func (s *Store) ExpirePasses(ctx context.Context, eventID string, at time.Time) (int, error) {
	if eventID == "" {
		return 0, fmt.Errorf("redisstore: %w: %q", queuepass.ErrEventNotFound, eventID)
	}
	code, reply, err := s.eval(ctx, "expire passes", s.scripts.expire, s.eventKeys(eventID), micros(at))
	if err != nil {
		return 0, err
	}
	if err := codeErr(code, eventID); err != nil {
		return 0, err
	}
	if len(reply) != 1 {
		return 0, fmt.Errorf("%w: expire reply of %d elements", errCorrupt, len(reply))
	}
	n, err := reply[0].AsInt64()
	if err != nil {
		return 0, fmt.Errorf("%w: expire reply: %w", errCorrupt, err)
	}
	return int(n), nil
}

// status maps the status byte of a viewed record to the status and its
// reason.
func status(b byte) (queuepass.TicketStatus, queuepass.StatusReason, bool) {
	switch b {
	case 'r':
		return queuepass.StatusExpired, queuepass.ReasonRevoked, true
	case 'b':
		return queuepass.StatusExpired, queuepass.ReasonAbandoned, true
	case 'p':
		return queuepass.StatusPrequeue, "", true
	case 'w':
		return queuepass.StatusWaiting, "", true
	case 'a':
		return queuepass.StatusAdmitted, "", true
	case 'c':
		return queuepass.StatusCompleted, "", true
	case 'l':
		return queuepass.StatusLeft, "", true
	case 'e':
		return queuepass.StatusExpired, "", true
	case 'x':
		return queuepass.StatusClosed, "", true
	case 's':
		return queuepass.StatusClosed, queuepass.ReasonSoldOut, true
	}
	return "", "", false
}

// parseTicket decodes ticket number's viewed record (status, secret,
// times, user) and position (absent or 0 unless waiting).
func parseTicket(eventID string, number uint64, recMsg, posMsg rueidis.RedisMessage) (queuepass.Ticket, error) {
	bad := func(what string, err error) (queuepass.Ticket, error) {
		return queuepass.Ticket{}, fmt.Errorf("%w: ticket of event %q: %s: %v", errCorrupt, eventID, what, err)
	}
	rec, err := recMsg.ToString()
	if err != nil {
		return bad("record", err)
	}
	var pos int64
	if posMsg.IsInt64() {
		pos, _ = posMsg.AsInt64()
	}
	if len(rec) < 1+queuepass.TicketSecretSize+4 {
		return bad("record", fmt.Errorf("%d bytes", len(rec)))
	}
	st, reason, ok := status(rec[0])
	if !ok {
		return bad("status", fmt.Errorf("%q", rec[0]))
	}
	var secret [queuepass.TicketSecretSize]byte
	copy(secret[:], rec[1:])
	f := strings.SplitN(rec[1+queuepass.TicketSecretSize:], ",", 5)
	if len(f) != 5 {
		return bad("record", fmt.Errorf("%d fields", len(f)))
	}
	tk := queuepass.Ticket{
		ID:       queuepass.NewTicketID(number, secret),
		EventID:  eventID,
		UserID:   f[4],
		Status:   st,
		Position: int(pos),

		StatusReason: reason,
	}
	for i, dst := range []*time.Time{&tk.JoinedAt, &tk.AdmittedAt, &tk.PassExpiresAt, &tk.EndedAt} {
		if *dst, err = parseMicros(f[i]); err != nil {
			return bad("time", err)
		}
	}
	return tk, nil
}
