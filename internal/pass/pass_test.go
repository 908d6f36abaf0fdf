package pass

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var t0 = time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)

const testEvent = "tour-2027"

func testClaims() Claims {
	return Claims{
		Issuer:    DefaultIssuer,
		UserID:    "user-1",
		EventID:   testEvent,
		TicketID:  "AQ8y3kYkzN1pZ6cVQ2x9hA",
		IssuedAt:  t0,
		NotBefore: t0,
		ExpiresAt: t0.Add(15 * time.Minute),
	}
}

func mustSign(t testing.TB, ks *KeySet, c Claims) string {
	t.Helper()
	tok, err := ks.Sign(c)
	if err != nil {
		t.Fatalf("Sign(%+v): %v", c, err)
	}
	return tok
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64JSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64(b)
}

// forge builds a compact JWS from a header and payload (JSON-encoded unless
// already strings) and a signing function over the signing input.
func forge(t testing.TB, header, payload any, sign func(input string) []byte) string {
	t.Helper()
	enc := func(v any) string {
		if s, ok := v.(string); ok {
			return b64([]byte(s))
		}
		return b64JSON(t, v)
	}
	input := enc(header) + "." + enc(payload)
	return input + "." + b64(sign(input))
}

// wirePayload is a valid payload for testClaims, as a map to edit.
func wirePayload() map[string]any {
	c := testClaims()
	return map[string]any{
		"iss": c.Issuer, "sub": c.UserID, "aud": c.EventID, "jti": c.TicketID,
		"iat": c.IssuedAt.Unix(), "nbf": c.NotBefore.Unix(), "exp": c.ExpiresAt.Unix(),
	}
}

func without(m map[string]any, key string) map[string]any {
	delete(m, key)
	return m
}

func with(m map[string]any, key string, v any) map[string]any {
	m[key] = v
	return m
}

func TestVerify(t *testing.T) {
	ks := Generate()
	other := Generate()
	kid := ks.SigningKeyID()
	edSign := func(input string) []byte { return ed25519.Sign(ks.signKey, []byte(input)) }
	header := func(alg, kid string) map[string]any {
		return map[string]any{"alg": alg, "kid": kid, "typ": "JWT"}
	}
	valid := mustSign(t, ks, testClaims())
	parts := strings.Split(valid, ".")
	exp := testClaims().ExpiresAt
	nbf := testClaims().NotBefore

	tampered := func(i int, f func([]byte) []byte) string {
		p := append([]string(nil), parts...)
		b, err := base64.RawURLEncoding.DecodeString(p[i])
		if err != nil {
			t.Fatal(err)
		}
		p[i] = b64(f(b))
		return strings.Join(p, ".")
	}

	tests := []struct {
		name    string
		token   string
		eventID string
		at      time.Time
		want    Reason // "" for a valid pass
	}{
		{"valid", valid, testEvent, t0.Add(time.Minute), ""},
		{"valid at nbf", valid, testEvent, nbf, ""},
		{"wrong event", valid, "other-event", t0.Add(time.Minute), ReasonWrongEvent},
		{"empty event", valid, "", t0.Add(time.Minute), ReasonWrongEvent},
		{"at exp, within skew", valid, testEvent, exp, ""},
		{"just within skew after exp", valid, testEvent, exp.Add(ClockSkew - time.Nanosecond), ""},
		{"expired by skew", valid, testEvent, exp.Add(ClockSkew), ReasonExpired},
		{"expired long ago", valid, testEvent, exp.Add(time.Hour), ReasonExpired},
		{"nbf ahead within skew", valid, testEvent, nbf.Add(-ClockSkew), ""},
		{"nbf ahead beyond skew", valid, testEvent, nbf.Add(-ClockSkew - time.Nanosecond), ReasonNotYetValid},
		{"nbf far ahead", valid, testEvent, nbf.Add(-time.Hour), ReasonNotYetValid},
		{"wrong event before expired", valid, "other-event", exp.Add(time.Hour), ReasonWrongEvent},

		{"tampered payload", tampered(1, func(b []byte) []byte {
			return []byte(strings.Replace(string(b), "user-1", "user-2", 1))
		}), testEvent, t0, ReasonBadSignature},
		{"tampered header", tampered(0, func(b []byte) []byte {
			return []byte(strings.Replace(string(b), `"typ":"JWT"`, `"typ":"jwt"`, 1))
		}), testEvent, t0, ReasonBadSignature},
		{"tampered signature", tampered(2, func(b []byte) []byte {
			b[10] ^= 1
			return b
		}), testEvent, t0, ReasonBadSignature},
		{"short signature", tampered(2, func(b []byte) []byte { return b[:63] }), testEvent, t0, ReasonBadSignature},
		{"empty signature", parts[0] + "." + parts[1] + ".", testEvent, t0, ReasonBadSignature},
		{"signed by another key with our kid", forge(t, header("EdDSA", kid), wirePayload(), func(in string) []byte {
			return ed25519.Sign(other.signKey, []byte(in))
		}), testEvent, t0, ReasonBadSignature},

		{"alg none", forge(t, header("none", kid), wirePayload(), func(string) []byte { return nil }),
			testEvent, t0, ReasonUnsupportedAlgorithm},
		{"alg none signed by jwt", func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(wirePayload()))
			tok.Header["kid"] = kid
			s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}(), testEvent, t0, ReasonUnsupportedAlgorithm},
		{"HS256 with the public key as secret", func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(wirePayload()))
			tok.Header["kid"] = kid
			s, err := tok.SignedString([]byte(ks.signKey.Public().(ed25519.PublicKey)))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}(), testEvent, t0, ReasonUnsupportedAlgorithm},
		{"HS256 by hand with the JWK x as secret", forge(t, header("HS256", kid), wirePayload(), func(in string) []byte {
			m := hmac.New(sha256.New, []byte(b64(ks.signKey.Public().(ed25519.PublicKey))))
			m.Write([]byte(in))
			return m.Sum(nil)
		}), testEvent, t0, ReasonUnsupportedAlgorithm},
		{"alg Ed25519", forge(t, header("Ed25519", kid), wirePayload(), edSign), testEvent, t0, ReasonUnsupportedAlgorithm},
		{"alg eddsa", forge(t, header("eddsa", kid), wirePayload(), edSign), testEvent, t0, ReasonUnsupportedAlgorithm},
		{"alg missing", forge(t, map[string]any{"kid": kid}, wirePayload(), edSign), testEvent, t0, ReasonUnsupportedAlgorithm},
		{"alg not a string", forge(t, map[string]any{"alg": 1, "kid": kid}, wirePayload(), edSign), testEvent, t0, ReasonUnsupportedAlgorithm},

		{"unknown kid", forge(t, header("EdDSA", other.SigningKeyID()), wirePayload(), func(in string) []byte {
			return ed25519.Sign(other.signKey, []byte(in))
		}), testEvent, t0, ReasonUnknownKey},
		{"missing kid", forge(t, map[string]any{"alg": "EdDSA", "typ": "JWT"}, wirePayload(), edSign), testEvent, t0, ReasonUnknownKey},
		{"empty kid", forge(t, header("EdDSA", ""), wirePayload(), edSign), testEvent, t0, ReasonUnknownKey},
		{"kid not a string", forge(t, map[string]any{"alg": "EdDSA", "kid": 7}, wirePayload(), edSign), testEvent, t0, ReasonUnknownKey},

		{"empty", "", testEvent, t0, ReasonMalformed},
		{"one part", parts[0], testEvent, t0, ReasonMalformed},
		{"two parts", parts[0] + "." + parts[1], testEvent, t0, ReasonMalformed},
		{"four parts", valid + "." + parts[2], testEvent, t0, ReasonMalformed},
		{"bad base64 in header", "*" + valid, testEvent, t0, ReasonMalformed},
		{"bad base64 length", parts[0] + "." + parts[1] + "A." + parts[2], testEvent, t0, ReasonMalformed},
		{"padded", valid + "==", testEvent, t0, ReasonMalformed},
		{"newline in signature", parts[0] + "." + parts[1] + "." + parts[2][:10] + "\n" + parts[2][10:], testEvent, t0, ReasonMalformed},
		{"space around", " " + valid, testEvent, t0, ReasonMalformed},
		{"non-canonical base64", parts[0] + "." + parts[1] + "." + parts[2][:85] + nextB64(parts[2][85]), testEvent, t0, ReasonMalformed},
		{"header not JSON", b64([]byte("{alg")) + "." + parts[1] + "." + parts[2], testEvent, t0, ReasonMalformed},
		{"header not an object", forge(t, `["EdDSA"]`, wirePayload(), edSign), testEvent, t0, ReasonMalformed},
		{"payload not JSON", forge(t, header("EdDSA", kid), "{sub", edSign), testEvent, t0, ReasonMalformed},
		{"aud an array", forge(t, header("EdDSA", kid), with(wirePayload(), "aud", []string{testEvent}), edSign), testEvent, t0, ReasonMalformed},
		{"exp a string", forge(t, header("EdDSA", kid), with(wirePayload(), "exp", "soon"), edSign), testEvent, t0, ReasonMalformed},
		{"too long", valid + strings.Repeat("A", MaxLength), testEvent, t0, ReasonMalformed},
		{"crit header", forge(t, map[string]any{"alg": "EdDSA", "kid": kid, "crit": []string{"b64"}, "b64": false}, wirePayload(), edSign), testEvent, t0, ReasonMalformed},
		{"signed without sub", forge(t, header("EdDSA", kid), without(wirePayload(), "sub"), edSign), testEvent, t0, ReasonMalformed},
		{"signed without aud", forge(t, header("EdDSA", kid), without(wirePayload(), "aud"), edSign), testEvent, t0, ReasonMalformed},
		{"signed without jti", forge(t, header("EdDSA", kid), without(wirePayload(), "jti"), edSign), testEvent, t0, ReasonMalformed},
		{"signed without exp", forge(t, header("EdDSA", kid), without(wirePayload(), "exp"), edSign), testEvent, t0, ReasonMalformed},
		{"signed without nbf", forge(t, header("EdDSA", kid), without(wirePayload(), "nbf"), edSign), testEvent, t0, ReasonMalformed},
		{"signed without iat", forge(t, header("EdDSA", kid), without(wirePayload(), "iat"), edSign), testEvent, t0, ReasonMalformed},

		{"extra claims and header fields are ignored", forge(t,
			map[string]any{"alg": "EdDSA", "kid": kid, "typ": "JWT", "x": 1},
			with(wirePayload(), "scope", "vip"), edSign), testEvent, t0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ks.Verify(tt.token, tt.eventID, tt.at)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Verify(%q, %q, %v) = %v, want a valid pass", tt.token, tt.eventID, tt.at, err)
				}
				if want := testClaims(); c != want {
					t.Errorf("Verify claims = %+v, want %+v", c, want)
				}
				return
			}
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("Verify(%q, %q, %v) = %v (%T), want *VerifyError %q", tt.token, tt.eventID, tt.at, err, err, tt.want)
			}
			if ve.Reason != tt.want {
				t.Errorf("Verify(%q, %q, %v) reason = %q (%v), want %q", tt.token, tt.eventID, tt.at, ve.Reason, err, tt.want)
			}
			authentic := tt.want == ReasonWrongEvent || tt.want == ReasonExpired || tt.want == ReasonNotYetValid
			if authentic && c != testClaims() {
				t.Errorf("Verify claims with %q = %+v, want the pass's claims", tt.want, c)
			}
			if !authentic && c != (Claims{}) {
				t.Errorf("Verify claims with %q = %+v, want zero", tt.want, c)
			}
		})
	}
}

// nextB64 returns the base64url character after c, which changes only the
// unused low bits of a final character such as the last one of a signature.
func nextB64(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[i^1])
}

func TestSignClaimsRoundTrip(t *testing.T) {
	ks := Generate()
	in := Claims{
		UserID:    "Zoë <zoe@example.com> \u2028",
		EventID:   testEvent,
		TicketID:  "t",
		IssuedAt:  time.Date(2026, 12, 3, 19, 0, 0, 999_999_999, time.FixedZone("CET", 3600)),
		ExpiresAt: time.Date(2026, 12, 3, 19, 15, 0, 5, time.FixedZone("CET", 3600)),
	}
	tok := mustSign(t, ks, in)
	got, err := ks.Verify(tok, testEvent, in.IssuedAt)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := Claims{
		Issuer:    DefaultIssuer,
		UserID:    in.UserID,
		EventID:   testEvent,
		TicketID:  "t",
		IssuedAt:  time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC),
		NotBefore: time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC),
		ExpiresAt: time.Date(2026, 12, 3, 18, 15, 0, 0, time.UTC),
	}
	if got != want {
		t.Errorf("Verify(Sign(%+v)) = %+v, want %+v", in, got, want)
	}

	in.Issuer = "tickets.example"
	got, err = ks.Verify(mustSign(t, ks, in), testEvent, in.IssuedAt)
	if err != nil || got.Issuer != "tickets.example" {
		t.Errorf("Verify(Sign with Issuer %q) = %+v, %v; want that issuer", in.Issuer, got, err)
	}
}

func TestSignHeaderAndDeterminism(t *testing.T) {
	ks := Generate()
	tok := mustSign(t, ks, testClaims())
	if again := mustSign(t, ks, testClaims()); again != tok {
		t.Errorf("Sign twice = %q and %q, want equal", tok, again)
	}
	header, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	want := `{"alg":"EdDSA","kid":"` + ks.SigningKeyID() + `","typ":"JWT"}`
	if string(header) != want {
		t.Errorf("header = %s, want %s", header, want)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	c := testClaims()
	wantPayload := `{"iss":"queuepass","sub":"user-1","aud":"tour-2027","jti":"` + c.TicketID +
		`","iat":1796320800,"nbf":1796320800,"exp":1796321700}`
	if string(payload) != wantPayload {
		t.Errorf("payload = %s, want %s", payload, wantPayload)
	}
}

func TestSignRejects(t *testing.T) {
	ks := Generate()
	tests := []struct {
		name string
		edit func(*Claims)
	}{
		{"no user", func(c *Claims) { c.UserID = "" }},
		{"no event", func(c *Claims) { c.EventID = "" }},
		{"no ticket", func(c *Claims) { c.TicketID = "" }},
		{"no issue time", func(c *Claims) { c.IssuedAt = time.Time{}; c.NotBefore = time.Time{} }},
		{"no expiry", func(c *Claims) { c.ExpiresAt = time.Time{} }},
		{"expiry at nbf", func(c *Claims) { c.ExpiresAt = c.NotBefore }},
		{"expiry within nbf's second", func(c *Claims) { c.ExpiresAt = c.NotBefore.Add(999 * time.Millisecond) }},
		{"expiry before nbf", func(c *Claims) { c.ExpiresAt = c.NotBefore.Add(-time.Minute) }},
		{"before 1970", func(c *Claims) { c.IssuedAt = time.Unix(-5, 0); c.NotBefore = c.IssuedAt }},
		{"too long", func(c *Claims) { c.UserID = strings.Repeat("u", MaxLength) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testClaims()
			tt.edit(&c)
			if tok, err := ks.Sign(c); err == nil {
				t.Errorf("Sign(%+v) = %q, want an error", c, tok)
			}
		})
	}
	var zero KeySet
	if tok, err := zero.Sign(testClaims()); err == nil {
		t.Errorf("zero KeySet: Sign = %q, want an error", tok)
	}
}

func TestZeroValues(t *testing.T) {
	tok := mustSign(t, Generate(), testClaims())
	var zero KeySet
	var nilVerifier *Verifier
	for name, verify := range map[string]func(string, string, time.Time) (Claims, error){
		"zero KeySet":   zero.Verify,
		"zero Verifier": new(Verifier).Verify,
		"nil Verifier":  nilVerifier.Verify,
	} {
		var ve *VerifyError
		if _, err := verify(tok, testEvent, t0); !errors.As(err, &ve) || ve.Reason != ReasonUnknownKey {
			t.Errorf("%s: Verify = %v, want reason %q", name, err, ReasonUnknownKey)
		}
	}
	if got := string(zero.JWKS()); got != `{"keys":[]}` {
		t.Errorf("zero KeySet: JWKS = %s, want an empty set", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	ks := Generate()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				c := testClaims()
				c.TicketID = strings.Repeat("t", g+1) + string(rune('a'+i%26))
				tok, err := ks.Sign(c)
				if err != nil {
					t.Errorf("Sign: %v", err)
					return
				}
				if got, err := ks.Verify(tok, testEvent, t0); err != nil || got != c {
					t.Errorf("Verify = %+v, %v; want %+v", got, err, c)
					return
				}
				_ = ks.JWKS()
			}
		}()
	}
	wg.Wait()
}

func BenchmarkSign(b *testing.B) {
	ks := Generate()
	c := testClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ks.Sign(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	ks := Generate()
	tok := mustSign(b, ks, testClaims())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ks.Verify(tok, testEvent, t0); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMAC(t *testing.T) {
	old, err := newKeySet([]privateKey{generateKey(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := newKeySet([]privateKey{generateKey(time.Now()), {kid: "old", key: old.signKey}})
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("a challenge")
	sum := old.MAC(msg)
	if len(sum) != MACSize {
		t.Fatalf("MAC length = %d, want %d", len(sum), MACSize)
	}
	for _, c := range []struct {
		name string
		ks   *KeySet
		msg  []byte
		sum  []byte
		want bool
	}{
		{"its own", old, msg, sum, true},
		{"a 16-byte prefix", old, msg, sum[:16], true},
		{"a 15-byte prefix", old, msg, sum[:15], false},
		{"another message", old, []byte("a challengf"), sum, false},
		{"by a set that still holds the key", rotated, msg, sum, true},
		{"by a set without the key", Generate(), msg, sum, false},
		{"by the zero set", &KeySet{}, msg, sum, false},
	} {
		if got := c.ks.CheckMAC(c.msg, c.sum); got != c.want {
			t.Errorf("CheckMAC of %s = %v, want %v", c.name, got, c.want)
		}
	}
	if bytes.Equal(rotated.MAC(msg), sum) {
		t.Error("a rotated set MACs with the old key, want the new signing key")
	}
}
