package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/postern/postern/internal/fault"
	"github.com/postern/postern/internal/query"
)

// Ref is a reference to another record in a request body: a bare id
// ("2" or 2) or an object with an id ({"id": "2"}, other keys ignored), as
// JumpServer's clients send both.
type Ref string

// UnmarshalJSON implements json.Unmarshaler.
func (r *Ref) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		id, ok := obj["id"]
		if !ok {
			return errors.New(`a reference object needs an "id"`)
		}
		b = id
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if s == "" || len(s) > 64 {
			return errors.New("a reference id must be 1-64 characters")
		}
		*r = Ref(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		if _, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
			*r = Ref(n.String())
			return nil
		}
	}
	return errors.New("a reference must be an id or an object with an id")
}

// ids converts references to plain ids.
func ids(refs *[]Ref) *[]string {
	if refs == nil {
		return nil
	}
	out := make([]string, len(*refs))
	for i, r := range *refs {
		out[i] = string(r)
	}
	return &out
}

func refID(r *Ref) *string {
	if r == nil {
		return nil
	}
	s := string(*r)
	return &s
}

// Time is an optional time in a request body: RFC 3339, or a date
// (2006-01-02, meaning midnight UTC), or null (or "") to clear. Set tells
// a field that was given, even as null, from one that was left out; it is
// a value type because encoding/json calls UnmarshalJSON with null only
// for values, never for nil pointers.
type Time struct {
	time.Time
	Set bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	t.Set = true
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("a time must be an RFC 3339 string, a date, or null")
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02"} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("%q is not an RFC 3339 time or a date", s)
}

func optTime(t Time) *time.Time {
	if !t.Set {
		return nil
	}
	v := t.Time
	return &v
}

// outTime renders a stored time for responses; zero becomes null.
func outTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// decodeError explains a JSON decoding failure in terms of the request.
func decodeError(err error, max int64) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return fault.Errorf(fault.TooLarge, "", "request body is larger than %d bytes", max)
	case errors.Is(err, io.EOF):
		return fault.InvalidField("", "request body is empty")
	case errors.As(err, &syn):
		return fault.InvalidField("", "malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return fault.InvalidField("", "expected %s, got a JSON %s", kindName(typ.Type.Kind().String()), typ.Value)
		}
		return fault.InvalidField(field, "expected %s, got a JSON %s", kindName(typ.Type.String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return fault.InvalidField(name, "unknown field")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fault.InvalidField("", "request body ends in the middle of the JSON")
	}
	// Errors from our own UnmarshalJSON methods (Ref, Time) name no field
	// in encoding/json; their message says what was expected.
	return fault.InvalidField("", "%s", strings.TrimPrefix(err.Error(), "json: "))
}

func kindName(t string) string {
	switch {
	case strings.HasPrefix(t, "*"):
		return kindName(t[1:])
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map"):
		return "an object"
	case t == "string" || t == "api.Ref":
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint") || strings.HasPrefix(t, "float"):
		return "a number"
	case t == "slice":
		return "a list"
	case t == "struct":
		return "an object"
	}
	return "a " + t
}

// page is the list envelope.
type page struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  any     `json:"results"`
}

func (c *call) page(q query.Query, count int, results any) page {
	u := *c.r.URL
	return page{Count: count, Next: q.Next(&u, count), Previous: q.Previous(&u), Results: results}
}

// project keeps only the ?fields= named keys of a response (or of each
// result of a list envelope). Unknown names are a 400, not a silent drop.
func project(v any, fields string) (any, error) {
	if fields == "" {
		return v, nil
	}
	want := strings.Split(fields, ",")
	if p, ok := v.(page); ok {
		items, err := toMaps(p.Results)
		if err != nil {
			return nil, err
		}
		for i := range items {
			if items[i], err = pick(items[i], want); err != nil {
				return nil, err
			}
		}
		p.Results = items
		return p, nil
	}
	m, err := toMap(v)
	if err != nil {
		return nil, err
	}
	return pick(m, want)
}

func toMap(v any) (map[string]json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fault.InvalidField("fields", "this response cannot be narrowed")
	}
	return m, nil
}

func toMaps(v any) ([]map[string]json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var ms []map[string]json.RawMessage
	if err := json.Unmarshal(b, &ms); err != nil {
		return nil, fault.InvalidField("fields", "this response cannot be narrowed")
	}
	if ms == nil {
		ms = []map[string]json.RawMessage{}
	}
	return ms, nil
}

func pick(m map[string]json.RawMessage, want []string) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(want))
	for _, f := range want {
		f = strings.TrimSpace(f)
		v, ok := m[f]
		if !ok {
			return nil, &query.Error{Param: "fields", Detail: fmt.Sprintf("unknown field %q", f)}
		}
		out[f] = v
	}
	return out, nil
}
