package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/queuepass/queuepass"
	"github.com/queuepass/queuepass/internal/waitroom"
)

// handleAddCodes adds access codes: the ones listed in codes, or generate
// random ones, each with uses (default 1).
func handleAddCodes(log *slog.Logger, room *waitroom.Room) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := eventID(w, r)
		if !ok {
			return
		}
		o, prob := readObject(w, r)
		if prob != nil {
			writeProblem(w, prob)
			return
		}
		o.allow("codes", "generate", "uses")
		uses := 1
		if _, present, null := o.field("uses"); null {
			o.verr.Add("uses", "must be an integer between 1 and %d", waitroom.MaxCodeUses)
		} else if n, ok := o.int("uses", 1, waitroom.MaxCodeUses); ok && present {
			uses = n
		}
		codes := o.codes("codes")
		generate, generating := o.int("generate", 1, waitroom.MaxCodesAdded)
		switch listed, generated := o.present("codes"), o.present("generate"); {
		case !listed && !generated:
			o.verr.Add("codes", "is required: send codes (a list of codes) or generate (how many to make)")
		case listed && generated:
			o.verr.Add("codes", "send either codes (a list of codes) or generate (how many to make), not both")
		}
		if err := o.err(); err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		var added []queuepass.AccessCode
		var err error
		if generating {
			added, err = room.GenerateCodes(r.Context(), id, generate, uses)
		} else {
			added, err = room.AddCodes(r.Context(), id, codes, uses)
		}
		if err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		w.Header().Set("Location", "/v1/events/"+id+"/codes")
		writeJSON(w, http.StatusCreated, struct {
			Codes []accessCodeJSON `json:"codes"`
		}{codesOut(added)})
	})
}

// handleSetCodeUses changes how many joins an access code grants: a merge
// patch of its uses, 0 to end it.
func handleSetCodeUses(log *slog.Logger, room *waitroom.Room) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := eventID(w, r)
		if !ok {
			return
		}
		code, ok := waitroom.NormalizeCode(r.PathValue("code"))
		if !ok {
			writeProblem(w, knownProblem(queuepass.ErrCodeNotFound))
			return
		}
		o, prob := readObject(w, r, "application/merge-patch+json", "application/json")
		if prob != nil {
			writeProblem(w, prob)
			return
		}
		o.allow("uses")
		var uses int
		if o.required("uses") {
			uses, _ = o.int("uses", 0, waitroom.MaxCodeUses)
		}
		if err := o.err(); err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		c, err := room.SetCodeUses(r.Context(), id, code, uses)
		if err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		writeJSON(w, http.StatusOK, codesOut([]queuepass.AccessCode{c})[0])
	})
}

// codes decodes a list of 1..waitroom.MaxCodesAdded access codes, each
// normalized, none twice.
func (o *object) codes(name string) []string {
	raw, present, null := o.field(name)
	if !present {
		return nil
	}
	var list []string
	if null || json.Unmarshal(raw, &list) != nil {
		o.verr.Add(name, "must be a list of codes (strings)")
		return nil
	}
	if len(list) == 0 || len(list) > waitroom.MaxCodesAdded {
		o.verr.Add(name, "must list 1 to %d codes", waitroom.MaxCodesAdded)
		return nil
	}
	seen := make(map[string]bool, len(list))
	out := make([]string, 0, len(list))
	for i, s := range list {
		field := name + "[" + strconv.Itoa(i) + "]"
		code, ok := waitroom.NormalizeCode(s)
		switch {
		case !ok:
			o.verr.Add(field, "must be %d to %d characters of A-Z, a-z, 0-9, '-' and '_'", waitroom.MinCodeLength, waitroom.MaxCodeLength)
		case seen[code]:
			o.verr.Add(field, "is listed twice (codes are matched in upper case)")
		default:
			seen[code] = true
			out = append(out, code)
		}
	}
	return out
}

func handleListCodes(log *slog.Logger, room *waitroom.Room) http.Handler {
	type page struct {
		Codes      []accessCodeJSON `json:"codes"`
		NextCursor *string          `json:"next_cursor"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := eventID(w, r)
		if !ok {
			return
		}
		limit, cursor, err := pageParams(r, waitroom.NormalizeCode)
		if err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		codes, next, err := room.Codes(r.Context(), id, cursor, limit)
		if err != nil {
			writeProblem(w, problemFor(r.Context(), log, err))
			return
		}
		out := page{Codes: codesOut(codes)}
		if next != "" {
			out.NextCursor = &next
		}
		writeJSON(w, http.StatusOK, out)
	})
}
