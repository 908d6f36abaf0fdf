package drop

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/queuepass/queuepass/client"
)

// passSkew is the clock difference allowed between the server that signed
// a pass and the machine checking it.
const passSkew = 2 * time.Minute

// keySet holds the Ed25519 keys of a JWKS by kid.
type keySet map[string]ed25519.PublicKey

func newKeySet(s client.JWKS) (keySet, error) {
	ks := make(keySet)
	for _, k := range s.Keys {
		pub, err := k.Ed25519()
		if err != nil {
			return nil, err
		}
		ks[k.Kid] = pub
	}
	if len(ks) == 0 {
		return nil, errors.New("JWKS has no keys")
	}
	return ks, nil
}

// check verifies a pass on its own: an EdDSA JWT signed by one of the keys,
// for the event (aud), user (sub) and ticket (jti), valid at now.
func (ks keySet) check(pass, eventID, userID, ticketID string, now time.Time) error {
	parts := strings.Split(pass, ".")
	if len(parts) != 3 {
		return errors.New("not a JWT")
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if header.Alg != "EdDSA" {
		return fmt.Errorf("alg %q, want EdDSA", header.Alg)
	}
	pub, ok := ks[header.Kid]
	if !ok {
		return fmt.Errorf("unknown kid %q", header.Kid)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	if !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		return errors.New("bad signature")
	}
	var claims struct {
		Sub string   `json:"sub"`
		Aud audience `json:"aud"`
		Jti string   `json:"jti"`
		Nbf *int64   `json:"nbf"`
		Exp *int64   `json:"exp"`
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	switch {
	case !slices.Contains(claims.Aud, eventID):
		return fmt.Errorf("aud %q, want %q", claims.Aud, eventID)
	case claims.Sub != userID:
		return fmt.Errorf("sub %q, want %q", claims.Sub, userID)
	case claims.Jti != ticketID:
		return fmt.Errorf("jti %q, want %q", claims.Jti, ticketID)
	case claims.Exp == nil || !now.Before(time.Unix(*claims.Exp, 0).Add(passSkew)):
		return errors.New("expired or no exp")
	case claims.Nbf != nil && now.Add(passSkew).Before(time.Unix(*claims.Nbf, 0)):
		return errors.New("not yet valid")
	}
	return nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// audience is a JWT aud claim: one string or an array of them.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}
