package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/queuepass/queuepass"
)

// AddCodes adds access codes to the event, all or none, in one script
// call.
func (s *Store) AddCodes(ctx context.Context, eventID string, codes []queuepass.AccessCode) error {
	if eventID == "" {
		return fmt.Errorf("redisstore: %w: %q", queuepass.ErrEventNotFound, eventID)
	}
	args := make([]string, 0, 2*len(codes))
	for _, c := range codes {
		if c.Code == "" || c.Uses < 1 {
			return fmt.Errorf("redisstore: AddCodes: code %q with %d uses: want a code with at least 1", c.Code, c.Uses)
		}
		args = append(args, c.Code, strconv.Itoa(c.Uses))
	}
	code, reply, err := s.eval(ctx, "add codes", s.scripts.addCodes, s.eventKeys(eventID), args...)
	if err != nil {
		return err
	}
	if code == codeCodeExists {
		name, _ := reply[0].ToString()
		return fmt.Errorf("redisstore: %w: %q in event %q", queuepass.ErrCodeExists, name, eventID)
	}
	return codeErr(code, eventID)
}

// SetCodeUses sets the uses of an access code of the event, in one script
// call.
func (s *Store) SetCodeUses(ctx context.Context, eventID, code string, uses int) (queuepass.AccessCode, error) {
	if eventID == "" {
		return queuepass.AccessCode{}, fmt.Errorf("redisstore: %w: %q", queuepass.ErrEventNotFound, eventID)
	}
	rc, reply, err := s.eval(ctx, "set code uses", s.scripts.setCodeUses, s.eventKeys(eventID), code, strconv.Itoa(max(uses, 0)))
	if err != nil {
		return queuepass.AccessCode{}, err
	}
	if rc == codeCodeNotFound {
		return queuepass.AccessCode{}, fmt.Errorf("redisstore: %w: %q in event %q", queuepass.ErrCodeNotFound, code, eventID)
	}
	if err := codeErr(rc, eventID); err != nil {
		return queuepass.AccessCode{}, err
	}
	if len(reply) != 1 {
		return queuepass.AccessCode{}, fmt.Errorf("%w: set code uses reply of %d elements", errCorrupt, len(reply))
	}
	counts, _ := reply[0].ToString() // not a string: parseCode reports ""
	return parseCode(eventID, code, counts)
}

// parseCode reads an access code's "uses:used" as the scripts keep it.
func parseCode(eventID, code, counts string) (queuepass.AccessCode, error) {
	usesStr, usedStr, ok := strings.Cut(counts, ":")
	uses, err1 := strconv.Atoi(usesStr)
	used, err2 := strconv.Atoi(usedStr)
	if !ok || err1 != nil || err2 != nil {
		return queuepass.AccessCode{}, fmt.Errorf("%w: access code %q of event %q: %q", errCorrupt, code, eventID, counts)
	}
	return queuepass.AccessCode{Code: code, Uses: uses, Used: used}, nil
}

// Codes returns at most limit of the event's access codes in byte order
// after after, in one script call.
func (s *Store) Codes(ctx context.Context, eventID, after string, limit int) ([]queuepass.AccessCode, error) {
	if eventID == "" {
		return nil, fmt.Errorf("redisstore: %w: %q", queuepass.ErrEventNotFound, eventID)
	}
	code, reply, err := s.eval(ctx, "list codes", s.scripts.codes, s.eventKeys(eventID), after, strconv.Itoa(max(limit, 0)))
	if err != nil {
		return nil, err
	}
	if err := codeErr(code, eventID); err != nil {
		return nil, err
	}
	if len(reply)%2 != 0 {
		return nil, fmt.Errorf("%w: codes reply of %d elements", errCorrupt, len(reply))
	}
	var out []queuepass.AccessCode
	for i := 0; i < len(reply); i += 2 {
		name, err := reply[i].ToString()
		if err != nil {
			return nil, fmt.Errorf("%w: access code of event %q: %w", errCorrupt, eventID, err)
		}
		counts, _ := reply[i+1].ToString() // not a string: parseCode reports ""
		c, err := parseCode(eventID, name, counts)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
