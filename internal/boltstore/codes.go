package boltstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/queuepass/queuepass"
)

// AddCodes adds access codes to the event, each with Used 0, and counts
// them in its Codes: all of them, or none if one exists already or is
// listed twice, failing with ErrCodeExists naming it. It fails with
// ErrEventNotFound, and with a *queuepass.ValidationError listing every
// code that is empty, longer than bbolt keys may be, or has Uses below 1.
func (s *Store) AddCodes(ctx context.Context, eventID string, codes []queuepass.AccessCode) error {
	ve := &queuepass.ValidationError{}
	for i, c := range codes {
		switch {
		case c.Code == "":
			ve.Add(fmt.Sprintf("codes[%d].code", i), "must not be empty")
		case len(c.Code) > bbolt.MaxKeySize:
			ve.Add(fmt.Sprintf("codes[%d].code", i), "must be at most %d bytes", bbolt.MaxKeySize)
		}
		if c.Uses < 1 {
			ve.Add(fmt.Sprintf("codes[%d].uses", i), "must be at least 1, not %d", c.Uses)
		}
	}
	if err := ve.Err(); err != nil {
		return err
	}
	// In byte order, a repeat is next to its first, and bbolt inserts fast.
	sorted := slices.SortedFunc(slices.Values(codes), func(a, b queuepass.AccessCode) int {
		return strings.Compare(a.Code, b.Code)
	})
	return s.submit(ctx, func(b *batch) error {
		m, err := b.event(eventID)
		if err != nil {
			return err
		}
		eb := b.bucket(eventID)
		cb := eb.Bucket(bucketCodes)
		for i, c := range sorted {
			if (i > 0 && sorted[i-1].Code == c.Code) || (cb != nil && cb.Get([]byte(c.Code)) != nil) {
				return fmt.Errorf("%w: %q", queuepass.ErrCodeExists, c.Code)
			}
		}
		if len(sorted) == 0 {
			return nil
		}
		if cb, err = eb.CreateBucketIfNotExists(bucketCodes); err != nil {
			return err
		}
		for _, c := range sorted {
			if err := cb.Put([]byte(c.Code), marshalCode(queuepass.AccessCode{Uses: c.Uses})); err != nil {
				return err
			}
			m.Codes.Codes++
			m.Codes.Uses += c.Uses
		}
		b.touch(eventID)
		return nil
	})
}

// SetCodeUses sets the uses of an access code of the event to uses, or to
// its Used if that is more, and returns it. It fails with ErrEventNotFound
// or ErrCodeNotFound.
func (s *Store) SetCodeUses(ctx context.Context, eventID, code string, uses int) (queuepass.AccessCode, error) {
	var out queuepass.AccessCode
	err := s.submit(ctx, func(b *batch) error {
		m, err := b.event(eventID)
		if err != nil {
			return err
		}
		var v []byte
		cb := b.bucket(eventID).Bucket(bucketCodes)
		if cb != nil {
			v = cb.Get([]byte(code))
		}
		if v == nil {
			return fmt.Errorf("%w: %q", queuepass.ErrCodeNotFound, code)
		}
		c, err := unmarshalCode(code, v)
		if err != nil {
			return fmt.Errorf("boltstore: event %q: %w", eventID, err)
		}
		was := c.Uses
		c.Uses = max(uses, c.Used)
		if c.Uses != was {
			if err := cb.Put([]byte(code), marshalCode(c)); err != nil {
				return err
			}
			m.Codes.Uses += c.Uses - was
			b.touch(eventID)
		}
		out = c
		return nil
	})
	if err != nil {
		return queuepass.AccessCode{}, err
	}
	return out, nil
}

// Codes returns at most limit of the event's access codes in increasing
// byte order, starting after the code after ("" starts from the first;
// after need not exist), or fails with ErrEventNotFound.
func (s *Store) Codes(ctx context.Context, eventID, after string, limit int) ([]queuepass.AccessCode, error) {
	out := []queuepass.AccessCode{}
	err := s.read(ctx, func(tx *bbolt.Tx) error {
		if _, err := s.event(eventID); err != nil {
			return err
		}
		cb := eventBucket(tx, eventID).Bucket(bucketCodes)
		if cb == nil {
			return nil
		}
		c := cb.Cursor()
		k, v := c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = c.Next()
		}
		for ; k != nil && len(out) < limit; k, v = c.Next() {
			code, err := unmarshalCode(string(k), v)
			if err != nil {
				return fmt.Errorf("boltstore: event %q: %w", eventID, err)
			}
			out = append(out, code)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
