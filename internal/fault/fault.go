// Package fault names the ways a request can be refused by the domain
// packages, so that the API can answer each with the right status and a
// clear message without those packages knowing HTTP.
package fault

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/postern/postern/internal/store"
)

// Kind classifies an error for the caller.
type Kind int

// Kinds of refusal.
const (
	Invalid          Kind = iota + 1 // bad input: 400
	NotFound                         // no such record: 404
	Conflict                         // clashes with an existing record: 409
	Forbidden                        // not allowed for this caller: 403
	Unauthorized                     // not authenticated: 401
	Locked                           // account locked: 403 with its own code
	TooLarge                         // body too large: 413
	MethodNotAllowed                 // path exists, method does not: 405
	Throttled                        // rate limited: 429
)

// Error is a refusal with an optional field and bulk row.
type Error struct {
	Kind   Kind
	Code   string // machine-readable, e.g. "invalid", "not_found"
	Field  string // the request field at fault, if any
	Row    int    // for bulk requests, 0-based row; -1 when not a bulk row
	Detail string // human-readable, never a secret
}

func (e *Error) Error() string {
	s := e.Detail
	if e.Field != "" {
		s = e.Field + ": " + s
	}
	if e.Row >= 0 {
		s = fmt.Sprintf("row %d: %s", e.Row, s)
	}
	return s
}

// Errorf builds an Error of kind k about field.
func Errorf(k Kind, field, format string, args ...any) *Error {
	return &Error{Kind: k, Code: codes[k], Field: field, Row: -1, Detail: fmt.Sprintf(format, args...)}
}

var codes = map[Kind]string{
	Invalid: "invalid", NotFound: "not_found", Conflict: "conflict", Forbidden: "permission_denied",
	Unauthorized: "not_authenticated", Locked: "account_locked", TooLarge: "too_large",
}

// InvalidField is a 400 naming the field.
func InvalidField(field, format string, args ...any) *Error {
	return Errorf(Invalid, field, format, args...)
}

// AtRow returns a copy of err (when it is an *Error) tagged with a bulk row.
func AtRow(err error, row int) error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Row = row
		return &c
	}
	return err
}

// As returns err as an *Error, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// Text checks a free-text field: valid UTF-8 without NUL, at most max
// characters, and not blank when required.
func Text(field, v string, max int, required bool) error {
	if required && strings.TrimSpace(v) == "" {
		return InvalidField(field, "is required")
	}
	if utf8.RuneCountInString(v) > max {
		return InvalidField(field, "longer than %d characters", max)
	}
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		return InvalidField(field, "must be valid UTF-8 text")
	}
	return nil
}

// NotFoundOr turns the store's not-found into a 404 about what.
func NotFoundOr(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return Errorf(NotFound, "", "no such %s", what)
	}
	return err
}

// ConflictOr turns the store's uniqueness violation into a 409 naming field.
func ConflictOr(err error, field, what string) error {
	if errors.Is(err, store.ErrConflict) {
		return Errorf(Conflict, field, "%s already exists", what)
	}
	return err
}

// Dedupe returns ids without repeats, in first-seen order.
func Dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// List is several refusals at once, such as every bad row of a bulk
// import. Its Kind is that of its first error.
type List []*Error

// Add appends err (converted to *Error when it is one) to l.
func (l List) Add(err error) List {
	if e := As(err); e != nil {
		return append(l, e)
	}
	return append(l, &Error{Kind: Invalid, Code: codes[Invalid], Row: -1, Detail: err.Error()})
}

// Err returns nil for an empty list, the single error for one, or the list.
func (l List) Err() error {
	switch len(l) {
	case 0:
		return nil
	case 1:
		return l[0]
	}
	return l
}

func (l List) Error() string {
	return fmt.Sprintf("%s (and %d more)", l[0].Error(), len(l)-1)
}
