package pass

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// jwk is an Ed25519 public key as a JSON Web Key (RFC 8037, section 2).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

type jwkSet struct {
	Keys []jwk `json:"keys"`
}

// encodeJWKS returns the JWK Set of keys, in their order.
func encodeJWKS(keys []publicKey) []byte {
	set := jwkSet{Keys: make([]jwk, len(keys))}
	for i, k := range keys {
		set.Keys[i] = jwk{
			Kty: "OKP",
			Crv: "Ed25519",
			X:   base64.RawURLEncoding.EncodeToString(k.key),
			Kid: k.kid,
			Alg: "EdDSA",
			Use: "sig",
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		panic(err) // strings and slices of them always encode
	}
	return b
}

// JWKS returns the public keys of v as a JWK Set (RFC 7517):
// {"keys":[{"kty":"OKP","crv":"Ed25519","x":…,"kid":…,"alg":"EdDSA","use":"sig"},…]}.
// The bytes are computed once; each call returns a fresh copy.
func (v *Verifier) JWKS() []byte {
	if v == nil || v.jwks == nil {
		return []byte(`{"keys":[]}`)
	}
	return bytes.Clone(v.jwks)
}

// ParseJWKS returns the Verifier of the Ed25519 signing keys in a JWK Set,
// such as the one JWKS returns. As RFC 7517 asks, it skips keys it cannot
// use: other key types and curves, and keys whose alg or use is not EdDSA
// or sig. It reports an error for malformed JSON, an Ed25519 key without a
// kid or with a malformed x, a repeated kid, or a set without any Ed25519
// signing key. Private parts ("d") are ignored.
func ParseJWKS(data []byte) (*Verifier, error) {
	var set jwkSet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("pass: parse JWKS: %w", err)
	}
	var keys []publicKey
	for i, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" ||
			(k.Alg != "" && k.Alg != "EdDSA") || (k.Use != "" && k.Use != "sig") {
			continue
		}
		x, err := base64.RawURLEncoding.Strict().DecodeString(k.X)
		if err != nil {
			return nil, fmt.Errorf("pass: parse JWKS: key %d: x: %w", i, err)
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("pass: parse JWKS: key %d: x is %d bytes, want %d", i, len(x), ed25519.PublicKeySize)
		}
		keys = append(keys, publicKey{kid: k.Kid, key: ed25519.PublicKey(x)})
	}
	if len(keys) == 0 {
		return nil, errors.New("pass: parse JWKS: no Ed25519 signing keys")
	}
	v, err := newVerifier(keys)
	if err != nil {
		return nil, fmt.Errorf("pass: parse JWKS: %w", err)
	}
	return v, nil
}
