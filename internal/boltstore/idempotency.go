package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/queuepass/queuepass"
)

// ClaimIdempotencyKey claims key for a request whose content hashes to
// fingerprint, or returns what is known of it with claimed false. An empty
// key fails with a *queuepass.ValidationError.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, key string, fingerprint [32]byte, at time.Time) (queuepass.IdempotencyRecord, bool, error) {
	if key == "" {
		ve := &queuepass.ValidationError{}
		ve.Add("key", "must not be empty")
		return queuepass.IdempotencyRecord{}, false, ve
	}
	var (
		rec     queuepass.IdempotencyRecord
		claimed bool
	)
	err := s.submit(ctx, func(b *batch) error {
		ib := b.tx.Bucket(bucketIdem)
		if v := ib.Get([]byte(key)); v != nil {
			r, err := unmarshalIdem(v)
			if err != nil {
				return err
			}
			rec, claimed = r, false
			return nil
		}
		r := queuepass.IdempotencyRecord{Fingerprint: fingerprint, CreatedAt: utc(at)}
		if err := putIdem(b.tx, key, r); err != nil {
			return err
		}
		rec, claimed = r, true
		return nil
	})
	if err != nil {
		return queuepass.IdempotencyRecord{}, false, err
	}
	return rec, claimed, nil
}

// FinishIdempotencyKey stores the response of the request that claimed
// key, marking it Done. The claim's Fingerprint and CreatedAt are kept; a
// key that is no longer claimed is stored afresh with resp's.
func (s *Store) FinishIdempotencyKey(ctx context.Context, key string, resp queuepass.IdempotencyRecord) error {
	if key == "" {
		ve := &queuepass.ValidationError{}
		ve.Add("key", "must not be empty")
		return ve
	}
	return s.submit(ctx, func(b *batch) error {
		resp.Done = true
		resp.CreatedAt = utc(resp.CreatedAt)
		if v := b.tx.Bucket(bucketIdem).Get([]byte(key)); v != nil {
			old, err := unmarshalIdem(v)
			if err != nil {
				return err
			}
			resp.Fingerprint, resp.CreatedAt = old.Fingerprint, old.CreatedAt
		}
		return putIdem(b.tx, key, resp)
	})
}

// ReleaseIdempotencyKey forgets key; an unknown key is not an error.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, key string) error {
	return s.submit(ctx, func(b *batch) error {
		ib := b.tx.Bucket(bucketIdem)
		v := ib.Get([]byte(key))
		if v == nil {
			return nil
		}
		r, err := unmarshalIdem(v)
		if err != nil {
			return err
		}
		if err := b.tx.Bucket(bucketIdemTime).Delete(idemTimeKey(r.CreatedAt, key)); err != nil {
			return err
		}
		return ib.Delete([]byte(key))
	})
}

// PurgeIdempotencyKeys forgets the keys created before before, in time
// order, visiting only those.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, before time.Time) error {
	limit := timeKey(before)
	return s.submit(ctx, func(b *batch) error {
		ib, tb := b.tx.Bucket(bucketIdem), b.tx.Bucket(bucketIdemTime)
		var keys [][]byte
		c := tb.Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:len(limit)], limit) < 0; k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			if err := ib.Delete(k[len(limit):]); err != nil {
				return err
			}
			if err := tb.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

func putIdem(tx *bbolt.Tx, key string, r queuepass.IdempotencyRecord) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketIdem).Put([]byte(key), data); err != nil {
		return err
	}
	return tx.Bucket(bucketIdemTime).Put(idemTimeKey(r.CreatedAt, key), nil)
}

func unmarshalIdem(data []byte) (queuepass.IdempotencyRecord, error) {
	var r queuepass.IdempotencyRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("corrupt idempotency record: %w", err)
	}
	return r, nil
}

func idemTimeKey(created time.Time, key string) []byte {
	return append(timeKey(created), key...)
}
