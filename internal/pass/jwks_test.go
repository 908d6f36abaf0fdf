package pass

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"
)

func TestJWKS(t *testing.T) {
	a, b := generateKey(t0), generateKey(t0)
	ks, err := newKeySet([]privateKey{a, b})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"keys":[` +
		`{"kty":"OKP","crv":"Ed25519","x":"` + b64(a.key.Public().(ed25519.PublicKey)) + `","kid":"` + a.kid + `","alg":"EdDSA","use":"sig"},` +
		`{"kty":"OKP","crv":"Ed25519","x":"` + b64(b.key.Public().(ed25519.PublicKey)) + `","kid":"` + b.kid + `","alg":"EdDSA","use":"sig"}]}`
	got := ks.JWKS()
	if string(got) != want {
		t.Errorf("JWKS =\n%s\nwant\n%s", got, want)
	}
	got[0] = 'X'
	if again := ks.JWKS(); string(again) != want {
		t.Errorf("JWKS after changing a returned copy = %s", again)
	}
	if !bytes.Equal(ks.Verifier().JWKS(), []byte(want)) {
		t.Errorf("Verifier().JWKS differs from JWKS")
	}
}

func TestParseJWKSVerifies(t *testing.T) {
	a, b := generateKey(t0), generateKey(t0)
	ks, err := newKeySet([]privateKey{a, b})
	if err != nil {
		t.Fatal(err)
	}
	ksB, err := newKeySet([]privateKey{b})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ParseJWKS(ks.JWKS())
	if err != nil {
		t.Fatalf("ParseJWKS(JWKS()): %v", err)
	}
	if got := v.JWKS(); !bytes.Equal(got, ks.JWKS()) {
		t.Errorf("JWKS of the parsed set = %s, want %s", got, ks.JWKS())
	}
	for name, tok := range map[string]string{
		"first key":  mustSign(t, ks, testClaims()),
		"second key": mustSign(t, ksB, testClaims()),
	} {
		if c, err := v.Verify(tok, testEvent, t0); err != nil || c != testClaims() {
			t.Errorf("%s: Verify = %+v, %v; want the claims", name, c, err)
		}
		var ve *VerifyError
		if _, err := v.Verify(tok, "other", t0); !errors.As(err, &ve) || ve.Reason != ReasonWrongEvent {
			t.Errorf("%s: Verify(other event) = %v, want %q", name, err, ReasonWrongEvent)
		}
	}
	other := mustSign(t, Generate(), testClaims())
	var ve *VerifyError
	if _, err := v.Verify(other, testEvent, t0); !errors.As(err, &ve) || ve.Reason != ReasonUnknownKey {
		t.Errorf("Verify(pass of a key not in the JWKS) = %v, want %q", err, ReasonUnknownKey)
	}
}

func TestParseJWKSSkipsForeignKeys(t *testing.T) {
	ks := Generate()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(ks.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	ours := set.Keys[0]
	set.Keys = append([]map[string]any{
		{"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
		{"kty": "OKP", "crv": "X25519", "kid": "x", "x": ours["x"]},
		{"kty": "OKP", "crv": "Ed25519", "kid": "enc", "x": ours["x"], "use": "enc"},
		{"kty": "OKP", "crv": "Ed25519", "kid": "other-alg", "x": ours["x"], "alg": "ES256"},
	}, set.Keys...)
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ParseJWKS(data)
	if err != nil {
		t.Fatalf("ParseJWKS(%s): %v", data, err)
	}
	if len(v.keys) != 1 || v.keys[0].kid != ks.SigningKeyID() {
		t.Errorf("ParseJWKS kept %v, want only %q", v.keys, ks.SigningKeyID())
	}
	if _, err := v.Verify(mustSign(t, ks, testClaims()), testEvent, t0); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestParseJWKSRejects(t *testing.T) {
	const x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	tests := []struct {
		name, data string
	}{
		{"empty", ``},
		{"not JSON", `keys`},
		{"no keys", `{"keys":[]}`},
		{"only foreign keys", `{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"}]}`},
		{"no kid", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `"}]}`},
		{"no x", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a"}]}`},
		{"short x", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"` + x[:40] + `"}]}`},
		{"padded x", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"` + x + `="}]}`},
		{"duplicate kid", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"` + x + `"},{"kty":"OKP","crv":"Ed25519","kid":"a","x":"` + x + `"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v, err := ParseJWKS([]byte(tt.data)); err == nil {
				t.Errorf("ParseJWKS(%s) = %v, want an error", tt.data, v)
			}
		})
	}
}
