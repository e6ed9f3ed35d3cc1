// Package audit records who did what: the operate log of every
// administrative change (with what changed, never a secret), login
// attempts, and, through the store, sessions. It holds no policy of its own;
// the domain packages call it inside their write transactions so that a
// change and its audit row land together or not at all.
package audit

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/postern/postern/internal/store"
)

// Actor is who performs a change, and from where.
type Actor struct {
	UserID, Username, RemoteAddr string
}

// System is the actor for changes Postern makes itself (first start).
var System = Actor{Username: "system"}

// Operate log actions.
const (
	Create = "create"
	Update = "update"
	Delete = "delete"
)

// Redacted replaces secret values in a recorded change.
const Redacted = "******"

// Change describes one administrative change for the operate log. Before
// and After are JSON-able views of the record (nil for create/delete
// sides). A view field tagged `audit:"secret"` is never recorded, only the
// fact that it was set or changed: the view says so once, rather than each
// call site remembering to.
type Change struct {
	Action, Type, ID, Name string
	Before, After          any
}

// Record writes the operate log row for c inside tx.
func Record(ctx context.Context, tx *store.Tx, a Actor, c Change, now time.Time) error {
	diff, err := Diff(c.Before, c.After, nil)
	if err != nil {
		return err
	}
	return tx.AddOperateLog(ctx, &store.OperateLog{
		UserID: a.UserID, Username: a.Username, Action: c.Action, ResourceType: c.Type,
		ResourceID: c.ID, Resource: c.Name, Diff: diff, RemoteAddr: a.RemoteAddr, Datetime: now,
	})
}

// Diff renders what changed between two views as JSON
// {"field": {"old": ..., "new": ...}}, with secret fields (those named in
// secret, and those tagged `audit:"secret"` in either view) shown as
// Redacted whatever their value.
func Diff(before, after any, secret []string) (string, error) {
	secret = append(append(secret, secretFields(before)...), secretFields(after)...)
	b, err := asMap(before)
	if err != nil {
		return "", err
	}
	a, err := asMap(after)
	if err != nil {
		return "", err
	}
	hidden := make(map[string]bool, len(secret))
	for _, s := range secret {
		hidden[s] = true
	}
	keys := make(map[string]bool)
	for k := range b {
		keys[k] = true
	}
	for k := range a {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	out := make(map[string]map[string]any)
	for _, k := range sorted {
		ov, ook := b[k]
		nv, nok := a[k]
		if ook && nok && reflect.DeepEqual(ov, nv) {
			continue
		}
		if hidden[k] {
			// Record that a secret was set or changed, not its value.
			if isEmpty(ov) && isEmpty(nv) {
				continue
			}
			e := map[string]any{}
			if ook && !isEmpty(ov) {
				e["old"] = Redacted
			}
			if nok && !isEmpty(nv) {
				e["new"] = Redacted
			}
			out[k] = e
			continue
		}
		e := map[string]any{}
		if ook {
			e["old"] = ov
		}
		if nok {
			e["new"] = nv
		}
		out[k] = e
	}
	js, err := json.Marshal(out)
	return string(js), err
}

// secretFields lists the JSON names of v's fields tagged
// `audit:"secret"` (v a struct or a pointer to one).
func secretFields(v any) []string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("audit") != "secret" {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

func isEmpty(v any) bool {
	return v == nil || v == "" || v == false
}

func asMap(v any) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	err = json.Unmarshal(js, &m)
	return m, err
}
