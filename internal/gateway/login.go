package gateway

import (
	"errors"
	"strings"
)

// Login is what an SSH login name asks for. DESIGN's contract:
// "alice" (menu), "alice@web-01", "alice@root@web-01", and the same with
// '#' as the separator ("alice#root#web-01") for clients that treat '@'
// specially.
type Login struct {
	User       string // Postern username
	SystemUser string // "" when not given
	Asset      string // "" for the menu
}

// ParseLogin splits an SSH login name. Usernames may not contain '@' or
// '#', so the first separator always ends the username; an asset name may
// itself contain the other separator character only when '#' is used.
func ParseLogin(name string) (Login, error) {
	if name == "" || len(name) > 512 {
		return Login{}, errors.New("login name must be 1-512 bytes")
	}
	sep := "@"
	if i := strings.IndexAny(name, "@#"); i >= 0 && name[i] == '#' {
		sep = "#"
	}
	parts := strings.SplitN(name, sep, 3)
	for _, p := range parts {
		if p == "" {
			return Login{}, errors.New("login name has an empty part: use user, user@asset or user@systemuser@asset")
		}
	}
	switch len(parts) {
	case 1:
		return Login{User: parts[0]}, nil
	case 2:
		return Login{User: parts[0], Asset: parts[1]}, nil
	}
	return Login{User: parts[0], SystemUser: parts[1], Asset: parts[2]}, nil
}
