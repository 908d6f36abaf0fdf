package queuepass

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
)

// A ticket ID names a ticket's number within its event (1 for the first
// ticket ever made, 2 for the next, …) together with 128 random bits, the
// secret that makes the ID a credential. Stores key tickets by number, so
// lookups need no index of random IDs; the secret is compared in constant
// time. The encoding is unpadded base64url of uvarint(number) ‖ secret.

// TicketSecretSize is the number of random bytes in every ticket ID.
const TicketSecretSize = 16

// NewTicketSecret returns fresh random bytes for a ticket ID.
func NewTicketSecret() [TicketSecretSize]byte {
	var s [TicketSecretSize]byte
	rand.Read(s[:]) // never fails (crypto/rand documents it)
	return s
}

// NewTicketID encodes a ticket number and secret as a ticket ID.
func NewTicketID(number uint64, secret [TicketSecretSize]byte) string {
	var b [binary.MaxVarintLen64 + TicketSecretSize]byte
	n := binary.PutUvarint(b[:], number)
	n += copy(b[n:], secret[:])
	return base64.RawURLEncoding.EncodeToString(b[:n])
}

// ParseTicketID decodes a ticket ID. ok is false for anything NewTicketID
// could not have made.
func ParseTicketID(id string) (number uint64, secret [TicketSecretSize]byte, ok bool) {
	if len(id) > base64.RawURLEncoding.EncodedLen(binary.MaxVarintLen64+TicketSecretSize) {
		return 0, secret, false
	}
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return 0, secret, false
	}
	number, n := binary.Uvarint(b)
	if n <= 0 || number == 0 || len(b)-n != TicketSecretSize {
		return 0, secret, false
	}
	copy(secret[:], b[n:])
	// Reject non-canonical encodings so that one ticket has exactly one ID.
	if NewTicketID(number, secret) != id {
		return 0, secret, false
	}
	return number, secret, true
}

// SecretsEqual compares two ticket secrets in constant time.
func SecretsEqual(a, b [TicketSecretSize]byte) bool {
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
