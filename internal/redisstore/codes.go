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
		name, err1 := reply[i].ToString()
		counts, err2 := reply[i+1].ToString()
		usesStr, usedStr, ok := strings.Cut(counts, ":")
		uses, err3 := strconv.Atoi(usesStr)
		used, err4 := strconv.Atoi(usedStr)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || !ok {
			return nil, fmt.Errorf("%w: access code %q of event %q: %q", errCorrupt, name, eventID, counts)
		}
		out = append(out, queuepass.AccessCode{Code: name, Uses: uses, Used: used})
	}
	return out, nil
}
