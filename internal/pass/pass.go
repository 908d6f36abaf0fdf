// Package pass signs and verifies admission passes: the short-lived tokens
// that prove to a protected site that a ticket holder was admitted.
//
// A pass is a JWT (RFC 7519) signed with Ed25519 (header alg "EdDSA", typ
// "JWT" and the signing key's kid) whose claims are iss, sub (the user), aud
// (the event, a single string), jti (the ticket), and iat, nbf and exp in
// whole seconds since the Unix epoch. Verification accepts nothing but
// EdDSA, looks the key up by kid and allows ClockSkew of disagreement
// between clocks.
//
// A KeySet holds one signing key and any number of keys that only verify.
// Keys rotate without a gap in three steps: add the new key after the
// current one on every node (it verifies but does not sign); once every node
// has it, move it to the front (it signs); once the longest pass TTL has
// passed, remove the old key. The public keys are published as a JWKS
// (RFC 7517, with RFC 8037 OKP keys) from which ParseJWKS builds a Verifier,
// so that sites can check passes without a call to QueuePass.
//
// Load and LoadOrCreate read the private keys from a JSON key file, which
// several nodes may share:
//
//	{"keys": [{"kid": "…", "created_at": "2026-12-03T18:00:00Z", "private_key": "…"}, …]}
//
// where private_key is the 32-byte Ed25519 seed in unpadded base64url and
// the first key signs. The file should be readable by its owner only; see
// InsecureModeError.
package pass

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultIssuer is the iss claim of passes whose Claims name no issuer.
const DefaultIssuer = "queuepass"

// ClockSkew is how far the clocks of the signer and the verifier may
// disagree: a pass is still accepted up to ClockSkew after its exp and
// already accepted up to ClockSkew before its nbf.
const ClockSkew = 30 * time.Second

// MaxLength is the length in bytes of the longest pass that Verify accepts
// and that Sign produces. Passes QueuePass issues are well under 1 KiB.
const MaxLength = 8 << 10

// Claims are what a pass says. Times are kept to whole seconds: Sign
// truncates them and Verify returns them in UTC.
type Claims struct {
	Issuer    string // iss; DefaultIssuer when empty at signing
	UserID    string // sub
	EventID   string // aud
	TicketID  string // jti
	IssuedAt  time.Time
	NotBefore time.Time // IssuedAt when zero at signing
	ExpiresAt time.Time
}

// KeySet signs passes with one key and verifies them with that key and any
// number of others. It is safe for concurrent use and never changes after it
// is made; to change keys, load a new KeySet.
//
// The zero KeySet signs nothing and verifies nothing.
type KeySet struct {
	signKID string
	signKey ed25519.PrivateKey
	v       *Verifier
	macKeys [][]byte // see MAC; the signing key's first
}

// privateKey is one entry of a key set, in the order of the key file.
type privateKey struct {
	kid       string
	createdAt time.Time
	key       ed25519.PrivateKey
}

// newKeySet returns the KeySet that signs with keys[0] and verifies with
// all of keys. It reports an error for no keys or a repeated kid.
func newKeySet(keys []privateKey) (*KeySet, error) {
	if len(keys) == 0 {
		return nil, errors.New("no keys")
	}
	pub := make([]publicKey, len(keys))
	for i, k := range keys {
		pub[i] = publicKey{kid: k.kid, key: k.key.Public().(ed25519.PublicKey)}
	}
	v, err := newVerifier(pub)
	if err != nil {
		return nil, err
	}
	macKeys := make([][]byte, len(keys))
	for i, k := range keys {
		macKeys[i] = deriveMACKey(k.key)
	}
	return &KeySet{signKID: keys[0].kid, signKey: keys[0].key, v: v, macKeys: macKeys}, nil
}

// deriveMACKey derives the secret of MAC from a private key, so that the
// key file is the one secret nodes share.
func deriveMACKey(k ed25519.PrivateKey) []byte {
	h := hmac.New(sha256.New, k.Seed())
	h.Write([]byte("queuepass mac key v1"))
	return h.Sum(nil)
}

// MACSize is the length of what MAC returns.
const MACSize = sha256.Size

// MAC authenticates msg for the holders of the key set: it returns
// HMAC-SHA256 of msg under a secret derived from the signing key (never the
// key itself). Nodes that share a key file make and accept each other's
// MACs. It returns nil for the zero KeySet.
func (ks *KeySet) MAC(msg []byte) []byte {
	if ks == nil || len(ks.macKeys) == 0 {
		return nil
	}
	return mac(ks.macKeys[0], msg)
}

// CheckMAC reports whether sum is a MAC of msg made with any key of the
// set (so that MACs made before a rotation still check), comparing in
// constant time. sum may be a prefix of the MAC, of at least 16 bytes.
func (ks *KeySet) CheckMAC(msg, sum []byte) bool {
	if ks == nil || len(sum) < 16 || len(sum) > MACSize {
		return false
	}
	ok := false
	for _, k := range ks.macKeys {
		ok = subtle.ConstantTimeCompare(mac(k, msg)[:len(sum)], sum) == 1 || ok
	}
	return ok
}

func mac(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}

// Generate returns a KeySet with one fresh key that exists only in memory,
// for tests and for single-process use where passes need not outlive the
// process.
func Generate() *KeySet {
	ks, err := newKeySet([]privateKey{generateKey(time.Now())})
	if err != nil {
		panic(err) // one key with a fresh kid cannot be rejected
	}
	return ks
}

// SigningKeyID returns the kid of the key that signs, or "" for the zero
// KeySet.
func (ks *KeySet) SigningKeyID() string { return ks.signKID }

// Verifier returns the public half of ks: it verifies the same passes and
// publishes the same JWKS.
func (ks *KeySet) Verifier() *Verifier { return ks.v }

// Verify is ks.Verifier().Verify: see Verifier.Verify.
func (ks *KeySet) Verify(token, eventID string, at time.Time) (Claims, error) {
	return ks.v.Verify(token, eventID, at)
}

// JWKS is ks.Verifier().JWKS: the public keys of every key in ks, signing
// key first.
func (ks *KeySet) JWKS() []byte { return ks.v.JWKS() }

// Sign returns the pass that states c, signed with the signing key. The
// same claims and key always give the same pass.
//
// UserID, EventID, TicketID, IssuedAt and ExpiresAt are required, and
// ExpiresAt must be after NotBefore (after truncation to seconds); Sign
// reports an error otherwise, or when the KeySet has no key.
func (ks *KeySet) Sign(c Claims) (string, error) {
	if ks == nil || ks.signKey == nil {
		return "", errors.New("pass: sign: no signing key")
	}
	wc, err := newWireClaims(c)
	if err != nil {
		return "", fmt.Errorf("pass: sign: %w", err)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, wc)
	t.Header["kid"] = ks.signKID
	s, err := t.SignedString(ks.signKey)
	if err != nil {
		return "", fmt.Errorf("pass: sign: %w", err)
	}
	if len(s) > MaxLength {
		return "", fmt.Errorf("pass: sign: pass of %d bytes is longer than %d", len(s), MaxLength)
	}
	return s, nil
}

// wireClaims is the JSON form of Claims. Times are encoded here rather than
// with jwt.NumericDate, whose encoding follows a package variable of jwt.
type wireClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	ID        string `json:"jti"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	ExpiresAt int64  `json:"exp"`
}

func newWireClaims(c Claims) (*wireClaims, error) {
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	if c.NotBefore.IsZero() {
		c.NotBefore = c.IssuedAt
	}
	wc := &wireClaims{
		Issuer:    c.Issuer,
		Subject:   c.UserID,
		Audience:  c.EventID,
		ID:        c.TicketID,
		IssuedAt:  c.IssuedAt.Unix(),
		NotBefore: c.NotBefore.Unix(),
		ExpiresAt: c.ExpiresAt.Unix(),
	}
	switch {
	case c.UserID == "":
		return nil, errors.New("no user id")
	case c.EventID == "":
		return nil, errors.New("no event id")
	case c.TicketID == "":
		return nil, errors.New("no ticket id")
	case c.IssuedAt.IsZero():
		return nil, errors.New("no issue time")
	case c.ExpiresAt.IsZero():
		return nil, errors.New("no expiry time")
	case wc.IssuedAt <= 0 || wc.NotBefore <= 0:
		return nil, errors.New("times must be after 1970")
	case wc.ExpiresAt <= wc.NotBefore:
		return nil, fmt.Errorf("expiry %v is not after the start of validity %v",
			c.ExpiresAt.UTC(), c.NotBefore.UTC())
	}
	return wc, nil
}

// claims returns the Claims that wc states, or an error if a claim that
// every pass has is missing.
func (wc *wireClaims) claims() (Claims, error) {
	var missing string
	switch {
	case wc.Subject == "":
		missing = "sub"
	case wc.Audience == "":
		missing = "aud"
	case wc.ID == "":
		missing = "jti"
	case wc.IssuedAt == 0:
		missing = "iat"
	case wc.NotBefore == 0:
		missing = "nbf"
	case wc.ExpiresAt == 0:
		missing = "exp"
	}
	if missing != "" {
		return Claims{}, fmt.Errorf("missing claim %s", missing)
	}
	return Claims{
		Issuer:    wc.Issuer,
		UserID:    wc.Subject,
		EventID:   wc.Audience,
		TicketID:  wc.ID,
		IssuedAt:  time.Unix(wc.IssuedAt, 0).UTC(),
		NotBefore: time.Unix(wc.NotBefore, 0).UTC(),
		ExpiresAt: time.Unix(wc.ExpiresAt, 0).UTC(),
	}, nil
}

// wireClaims implements jwt.Claims only to satisfy jwt.Parser; the parser is
// told not to validate claims, which Verifier.Verify does itself.

func (wc *wireClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	return &jwt.NumericDate{Time: time.Unix(wc.ExpiresAt, 0)}, nil
}

func (wc *wireClaims) GetIssuedAt() (*jwt.NumericDate, error) {
	return &jwt.NumericDate{Time: time.Unix(wc.IssuedAt, 0)}, nil
}

func (wc *wireClaims) GetNotBefore() (*jwt.NumericDate, error) {
	return &jwt.NumericDate{Time: time.Unix(wc.NotBefore, 0)}, nil
}

func (wc *wireClaims) GetIssuer() (string, error)  { return wc.Issuer, nil }
func (wc *wireClaims) GetSubject() (string, error) { return wc.Subject, nil }

func (wc *wireClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings{wc.Audience}, nil
}
