package pass

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func FuzzVerify(f *testing.F) {
	ks := Generate()
	valid := mustSign(f, ks, testClaims())
	parts := strings.Split(valid, ".")
	f.Add(valid, testEvent, int64(0))
	f.Add(valid, "other", int64(0))
	f.Add(valid, testEvent, int64(3600))
	f.Add(parts[0]+"."+parts[1]+".", testEvent, int64(0))
	f.Add(parts[0]+".e30."+parts[2], testEvent, int64(0))
	f.Add("eyJhbGciOiJub25lIn0.e30.", testEvent, int64(0))
	f.Add("eyJhbGciOiJFZERTQSIsImtpZCI6IngifQ.bnVsbA.AA", "", int64(-1))
	f.Add("..", "", int64(0))
	f.Add("", "", int64(0))

	f.Fuzz(func(t *testing.T, token, eventID string, offset int64) {
		at := t0.Add(time.Duration(offset) * time.Second)
		c, err := ks.Verify(token, eventID, at)
		if err == nil {
			// Only passes we signed can verify, and only for their event.
			if c.EventID != eventID || c.ExpiresAt.Add(ClockSkew).Compare(at) <= 0 {
				t.Fatalf("Verify(%q, %q, %v) accepted %+v", token, eventID, at, c)
			}
			if again := mustSign(t, ks, c); again != token {
				t.Fatalf("Verify(%q) accepted a pass that Sign did not make (%q)", token, again)
			}
			return
		}
		var ve *VerifyError
		if !errors.As(err, &ve) {
			t.Fatalf("Verify(%q) error %v is %T, want *VerifyError", token, err, err)
		}
		switch ve.Reason {
		case ReasonMalformed, ReasonUnsupportedAlgorithm, ReasonUnknownKey, ReasonBadSignature,
			ReasonWrongEvent, ReasonExpired, ReasonNotYetValid:
		default:
			t.Fatalf("Verify(%q) reason %q is not one of the documented reasons", token, ve.Reason)
		}
	})
}
