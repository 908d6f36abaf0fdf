package pass

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Reason says why a pass was refused. The values are stable: the HTTP API
// returns them as the reason of POST /v1/passes/verify.
type Reason string

// The reasons Verify gives, in the order it checks them.
const (
	ReasonMalformed            Reason = "malformed"             // not a well-formed JWT, or a claim is missing
	ReasonUnsupportedAlgorithm Reason = "unsupported_algorithm" // alg is not EdDSA
	ReasonUnknownKey           Reason = "unknown_key"           // kid is missing or names no key of the set
	ReasonBadSignature         Reason = "bad_signature"         // the signature does not match
	ReasonWrongEvent           Reason = "wrong_event"           // aud is not the event asked about
	ReasonExpired              Reason = "expired"               // exp is past, beyond ClockSkew
	ReasonNotYetValid          Reason = "not_yet_valid"         // nbf is ahead, beyond ClockSkew
)

// VerifyError is the error of a refused pass. Reason is meant for machines;
// Err, which may be nil, adds detail for logs.
type VerifyError struct {
	Reason Reason
	Err    error
}

func (e *VerifyError) Error() string {
	if e.Err == nil {
		return "pass refused: " + string(e.Reason)
	}
	return "pass refused: " + string(e.Reason) + ": " + e.Err.Error()
}

func (e *VerifyError) Unwrap() error { return e.Err }

func refuse(r Reason, format string, args ...any) *VerifyError {
	return &VerifyError{Reason: r, Err: fmt.Errorf(format, args...)}
}

// Verifier checks passes with public keys only. It is safe for concurrent
// use and never changes after it is made. Get one from ParseJWKS or
// KeySet.Verifier; a nil or zero Verifier knows no keys.
type Verifier struct {
	keys   []publicKey // in publishing order
	byKID  map[string]ed25519.PublicKey
	parser *jwt.Parser
	jwks   []byte
}

// publicKey is one verification key.
type publicKey struct {
	kid string
	key ed25519.PublicKey
}

// newVerifier returns the Verifier of keys. It reports an error for an
// empty or repeated kid or a key of the wrong size.
func newVerifier(keys []publicKey) (*Verifier, error) {
	v := &Verifier{
		keys:   keys,
		byKID:  make(map[string]ed25519.PublicKey, len(keys)),
		parser: newParser(),
	}
	for _, k := range keys {
		if k.kid == "" {
			return nil, errors.New("key without kid")
		}
		if len(k.key) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("key %q: %d bytes, want %d", k.kid, len(k.key), ed25519.PublicKeySize)
		}
		if _, dup := v.byKID[k.kid]; dup {
			return nil, fmt.Errorf("kid %q appears twice", k.kid)
		}
		v.byKID[k.kid] = k.key
	}
	v.jwks = encodeJWKS(keys)
	return v, nil
}

// newParser returns the jwt.Parser of passes. It decodes strictly and
// leaves claim checks to Verify, which takes the time as an argument.
func newParser() *jwt.Parser {
	return jwt.NewParser(jwt.WithStrictDecoding(), jwt.WithoutClaimsValidation())
}

// Verify checks that token is a pass for the event eventID, signed by a key
// of v and valid at the time at, allowing ClockSkew. It returns the pass's
// claims, or an error of type *VerifyError whose Reason names the first
// check that failed. The checks run in this order: the form of the token
// and its header and payload (malformed), alg (unsupported_algorithm), crit
// (malformed), kid (unknown_key), the signature (bad_signature), the
// presence of sub, aud, jti, iat, nbf and exp (malformed), aud
// (wrong_event), exp (expired), nbf (not_yet_valid). Verify does not check
// iss or typ: a key signs nothing but passes. It never reads the clock.
//
// When the signature is good but a claim check fails (wrong_event, expired,
// not_yet_valid), the authentic claims come back along with the error, for
// logs and messages; they do not admit anyone. Otherwise the Claims are zero.
func (v *Verifier) Verify(token, eventID string, at time.Time) (Claims, error) {
	if len(token) > MaxLength {
		return Claims{}, refuse(ReasonMalformed, "longer than %d bytes", MaxLength)
	}
	// Base64 decoding skips newlines, so without this check a pass could be
	// altered and still verify.
	for i := 0; i < len(token); i++ {
		if !isTokenByte(token[i]) {
			return Claims{}, refuse(ReasonMalformed, "byte %#02x at offset %d", token[i], i)
		}
	}

	var p *jwt.Parser
	if v != nil {
		p = v.parser
	}
	if p == nil {
		p = newParser()
	}
	var wc wireClaims
	if _, err := p.ParseWithClaims(token, &wc, v.key); err != nil {
		return Claims{}, classify(err)
	}
	c, err := wc.claims()
	if err != nil {
		return Claims{}, &VerifyError{Reason: ReasonMalformed, Err: err}
	}
	switch {
	case c.EventID != eventID:
		return c, refuse(ReasonWrongEvent, "for event %q, not %q", c.EventID, eventID)
	case !c.ExpiresAt.After(at.Add(-ClockSkew)):
		return c, refuse(ReasonExpired, "expired at %v", c.ExpiresAt)
	case c.NotBefore.After(at.Add(ClockSkew)):
		return c, refuse(ReasonNotYetValid, "valid from %v", c.NotBefore)
	}
	return c, nil
}

// key is the jwt.Keyfunc of v: it admits only EdDSA and finds the key by
// kid. It runs before any signature check, so no other algorithm ever sees
// a key (no confusion of an Ed25519 public key with an HMAC secret).
func (v *Verifier) key(t *jwt.Token) (any, error) {
	alg, _ := t.Header["alg"].(string)
	if _, ok := t.Method.(*jwt.SigningMethodEd25519); !ok || alg != "EdDSA" {
		return nil, refuse(ReasonUnsupportedAlgorithm, "alg %q", alg)
	}
	if _, ok := t.Header["crit"]; ok {
		// RFC 7515, section 4.1.11: unknown critical extensions must be refused.
		return nil, refuse(ReasonMalformed, "critical header parameters are not supported")
	}
	kid, ok := t.Header["kid"].(string)
	if !ok || kid == "" {
		return nil, refuse(ReasonUnknownKey, "no kid")
	}
	var k ed25519.PublicKey
	if v != nil {
		k = v.byKID[kid]
	}
	if k == nil {
		return nil, refuse(ReasonUnknownKey, "kid %q", kid)
	}
	return k, nil
}

// classify turns an error of jwt.Parser into a *VerifyError.
func classify(err error) *VerifyError {
	var ve *VerifyError
	switch {
	case errors.As(err, &ve): // from Verifier.key
		return ve
	case errors.Is(err, jwt.ErrTokenMalformed):
		return &VerifyError{Reason: ReasonMalformed, Err: err}
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// The parser found no alg, or one it does not know.
		return &VerifyError{Reason: ReasonUnsupportedAlgorithm, Err: err}
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return &VerifyError{Reason: ReasonBadSignature, Err: err}
	}
	return &VerifyError{Reason: ReasonMalformed, Err: err}
}

// isTokenByte reports whether b may appear in a compact JWS: the unpadded
// base64url alphabet and the dot.
func isTokenByte(b byte) bool {
	return 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' ||
		b == '-' || b == '_' || b == '.'
}
