package access

import (
	"errors"
	"fmt"
	"strings"
)

// Action is a set of things a user may do on an asset, as a bitmask so that
// unions over many permissions are a single OR.
type Action uint16

// The individual actions, in their canonical order.
const (
	ActionConnect Action = 1 << iota
	ActionUpload
	ActionDownload
	ActionCopy
	ActionPaste
	ActionDelete
	ActionShare
)

// ActionAll is every action; it is what the name "all" parses to.
const ActionAll = ActionConnect | ActionUpload | ActionDownload | ActionCopy | ActionPaste | ActionDelete | ActionShare

// actionNames is indexed by bit position, so it also fixes the canonical order.
var actionNames = [...]string{"connect", "upload", "download", "copy", "paste", "delete", "share"}

// ParseActions turns action names, as stored in permission rules and sent by
// the API, into a set. Names are case-insensitive; "all" means every action.
// An empty list is an error because a rule with no action is almost always a
// client mistake rather than a deliberate "grant nothing".
func ParseActions(names []string) (Action, error) {
	if len(names) == 0 {
		return 0, errors.New("access: no action given")
	}
	var a Action
	for _, raw := range names {
		name := strings.ToLower(strings.TrimSpace(raw))
		if name == "all" {
			a |= ActionAll
			continue
		}
		found := false
		for i, n := range actionNames {
			if n == name {
				a |= 1 << i
				found = true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("access: unknown action %q", raw)
		}
	}
	return a, nil
}

// Names lists the actions in a in canonical order. ActionAll is spelled out
// as its seven names so that clients never need to know about "all".
func (a Action) Names() []string {
	names := make([]string, 0, len(actionNames))
	for i, n := range actionNames {
		if a&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return names
}

// Has reports whether a includes every action in b. An empty b is never
// held, so a zero value obtained by mistake cannot authorize anything.
func (a Action) Has(b Action) bool {
	return b != 0 && a&b == b
}

// String joins the names with commas, for logs and audit records.
func (a Action) String() string {
	return strings.Join(a.Names(), ",")
}
