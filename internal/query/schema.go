package query

import (
	"errors"
	"fmt"
	"strings"
)

// Validate reports whether s is a usable schema. Parse and OrderBy panic on
// an invalid schema, so a package declaring schemas should call Validate in
// a test to find mistakes before a request does.
func (s *Schema) Validate() error {
	if s == nil {
		return errors.New("query: nil schema")
	}
	if err := checkColumn(s.Tiebreak); err != nil {
		return fmt.Errorf("query: schema Tiebreak: %w", err)
	}
	names := map[string]bool{}
	for _, f := range s.Fields {
		if err := checkName(f.Name); err != nil {
			return fmt.Errorf("query: schema field %q: %w", f.Name, err)
		}
		if names[f.Name] {
			return fmt.Errorf("query: schema field %q is declared twice", f.Name)
		}
		names[f.Name] = true
		if err := checkColumn(f.Column); err != nil {
			return fmt.Errorf("query: schema field %q: %w", f.Name, err)
		}
		if f.Type < String || f.Type > ID {
			return fmt.Errorf("query: schema field %q has unknown type %v", f.Name, f.Type)
		}
		// LOWER() on a non-text column fails on PostgreSQL, and searching
		// inside identifiers is deliberately not offered.
		if f.Search && f.Type != String {
			return fmt.Errorf("query: schema field %q: only String fields can be searched", f.Name)
		}
	}
	for _, e := range s.Extra {
		if err := checkName(e); err != nil {
			return fmt.Errorf("query: schema Extra %q: %w", e, err)
		}
		if names[e] {
			return fmt.Errorf("query: schema Extra %q is also a field or listed twice", e)
		}
		names[e] = true
	}
	out := map[string]bool{}
	for _, o := range s.Output {
		if o == "" || out[o] {
			return fmt.Errorf("query: schema Output %q is empty or listed twice", o)
		}
		out[o] = true
	}
	if s.MaxLimit < 0 || s.MaxLimit > MaxPage {
		return fmt.Errorf("query: schema MaxLimit %d is out of range", s.MaxLimit)
	}
	if s.DefaultOrder != "" {
		if _, detail := parseOrder(s, s.DefaultOrder, false); detail != "" {
			return fmt.Errorf("query: schema DefaultOrder %q: %s", s.DefaultOrder, detail)
		}
	}
	return nil
}

func mustValidate(s *Schema) {
	if err := s.Validate(); err != nil {
		panic(err.Error())
	}
}

// checkName rejects parameter names Parse could not tell apart from others:
// "__" separates a field from its operator, and the page parameters are
// handled before fields are looked at.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case strings.Contains(name, "__"):
		return errors.New(`name contains "__"`)
	case reserved[name]:
		return errors.New("name is a reserved parameter")
	}
	// Identifiers only, so a name can never be mistaken for list syntax
	// ("," or a leading "-") or need encoding in a link.
	for _, c := range name {
		if !(c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return fmt.Errorf("name contains %q; use letters, digits and _", c)
		}
	}
	return nil
}

// checkColumn rejects a column expression that would break the rendered
// SQL's placeholder count, which callers rely on to line up arguments.
func checkColumn(col string) error {
	switch {
	case strings.TrimSpace(col) == "":
		return errors.New("empty column")
	case strings.Contains(col, "?"):
		return errors.New("column contains '?'")
	}
	return nil
}
