package waitroom

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"

	"github.com/queuepass/queuepass"
)

// Limits of access codes.
const (
	MinCodeLength = 4
	MaxCodeLength = 32 // MaxCodesAdded of them fit in a 64 KiB body
	MaxCodeUses   = 1_000_000
	MaxCodesAdded = 1000 // per call
)

// NormalizeCode returns an access code as it is stored and matched:
// upper case, so that people may type it in either. ok is false unless it
// is MinCodeLength to MaxCodeLength characters of A-Z, a-z, 0-9, '-' and
// '_'.
func NormalizeCode(s string) (code string, ok bool) {
	if len(s) < MinCodeLength || len(s) > MaxCodeLength {
		return "", false
	}
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return strings.ToUpper(s), true
}

// AddCodes adds access codes (normalized with NormalizeCode), each good
// for uses joins, and returns them as stored. All are added or none: a
// code the event has already fails with queuepass.ErrCodeExists. It fails
// with queuepass.ErrEventNotFound too.
func (r *Room) AddCodes(ctx context.Context, eventID string, codes []string, uses int) ([]queuepass.AccessCode, error) {
	out := make([]queuepass.AccessCode, len(codes))
	for i, c := range codes {
		out[i] = queuepass.AccessCode{Code: c, Uses: uses}
	}
	if err := r.store.AddCodes(ctx, eventID, out); err != nil {
		return nil, err
	}
	r.forget(eventID)
	return out, nil
}

// SetCodeUses sets how many joins an access code grants in all, and
// returns it. A code never grants fewer than it has made tickets, so 0
// ends it: joins that race with the change either made their ticket or
// find it used up. It fails with queuepass.ErrEventNotFound or
// queuepass.ErrCodeNotFound.
func (r *Room) SetCodeUses(ctx context.Context, eventID, code string, uses int) (queuepass.AccessCode, error) {
	c, err := r.store.SetCodeUses(ctx, eventID, code, uses)
	if err != nil {
		return queuepass.AccessCode{}, err
	}
	r.forget(eventID)
	return c, nil
}

// codeAlphabet is Crockford's base32: no I, L, O or U to misread.
const codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newCode returns a random code of three groups of four characters, such
// as 7K2M-QX9P-4TRW: 60 random bits, easy to read out and type.
func newCode() string {
	b := make([]byte, 12)
	rand.Read(b)
	out := make([]byte, 0, 14)
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			out = append(out, '-')
		}
		out = append(out, codeAlphabet[c%32])
	}
	return string(out)
}

// GenerateCodes adds n random access codes, each good for uses joins, and
// returns them. It fails with queuepass.ErrEventNotFound.
func (r *Room) GenerateCodes(ctx context.Context, eventID string, n, uses int) ([]queuepass.AccessCode, error) {
	for range 3 {
		codes := make([]string, n)
		for i := range codes {
			codes[i] = newCode()
		}
		out, err := r.AddCodes(ctx, eventID, codes, uses)
		if !errors.Is(err, queuepass.ErrCodeExists) {
			return out, err
		}
		// One of 2^60 codes was drawn twice or exists: draw again.
	}
	return nil, errors.New("waitroom: generated access codes kept colliding")
}

// Codes lists the event's access codes in code order, limit at a time. The
// cursor is the last code of the previous page ("" for the first page);
// next is "" on the last page.
func (r *Room) Codes(ctx context.Context, eventID, cursor string, limit int) (codes []queuepass.AccessCode, next string, err error) {
	codes, err = r.store.Codes(ctx, eventID, cursor, limit+1)
	if err != nil {
		return nil, "", err
	}
	if len(codes) > limit {
		codes = codes[:limit]
		next = codes[limit-1].Code
	}
	return codes, next, nil
}
