package sftpproxy

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
)

// recheckEvery bounds how long a revoked permission or a removed action
// goes on applying to new operations: the gateway re-checks shell sessions
// as often.
const recheckEvery = 2 * time.Second

// session is one operator's SFTP subsystem: the target list, the target
// connections, and the request handlers (handlers.go).
type session struct {
	ctx    context.Context
	b      Backend
	direct *Target
	start  string    // where relative paths start
	began  time.Time // shown as the virtual directories' time

	closeMu sync.Mutex // held while close runs
	mu      sync.Mutex
	reach   *reach // nil until fetched
	reachAt time.Time
	links   map[string]*link
	closed  bool
	files   int // files open (transfers), at most maxFiles
}

// maxFiles bounds the files one session may have open at once, as the
// limits extension tells clients (limits.go): each holds a file open on a
// target and some memory in the gateway.
const maxFiles = 256

// takeFile counts a file about to be opened, or says why it may not be.
func (s *session) takeFile() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files >= maxFiles {
		return newStatus(sftp.ErrSSHFxFailure, "postern: a session may have at most %d files open at once; close some first", maxFiles)
	}
	s.files++
	return nil
}

// putFile counts a file closed, or one that takeFile counted but did not
// open.
func (s *session) putFile() {
	s.mu.Lock()
	s.files--
	s.mu.Unlock()
}

// reach is what the operator may reach: the targets with connect, sorted
// by asset and system user, and indexed by asset.
type reach struct {
	list    []Target
	byAsset map[string][]Target
}

// link is one target connection, shared by the session's operations.
type link struct {
	ready  chan struct{} // closed once the dial is done
	c      *Client
	closer io.Closer
	err    error
}

func newSession(ctx context.Context, b Backend, direct *Target) *session {
	return &session{ctx: ctx, b: b, direct: direct, start: "/", began: time.Now(), links: map[string]*link{}}
}

// targets returns what the operator may reach, fetching it again when the
// copy at hand is older than recheckEvery.
func (s *session) targets(ctx context.Context) (*reach, error) {
	s.mu.Lock()
	if s.reach != nil && time.Since(s.reachAt) < recheckEvery {
		r := s.reach
		s.mu.Unlock()
		return r, nil
	}
	s.mu.Unlock()
	all, err := s.b.Targets(ctx)
	if err != nil {
		return nil, newStatus(sftp.ErrSSHFxFailure, "postern: cannot list your assets: %v", err)
	}
	keep := make([]Target, 0, len(all))
	for _, t := range all {
		if !t.Can(ActionConnect) {
			continue
		}
		if s.direct == nil && (!pathElem(t.Asset) || !pathElem(t.SystemUser)) {
			continue
		}
		keep = append(keep, t)
	}
	sort.SliceStable(keep, func(i, j int) bool {
		if keep[i].Asset != keep[j].Asset {
			return keep[i].Asset < keep[j].Asset
		}
		return keep[i].SystemUser < keep[j].SystemUser
	})
	r := &reach{list: keep, byAsset: map[string][]Target{}}
	for _, t := range keep {
		r.byAsset[t.Asset] = append(r.byAsset[t.Asset], t)
	}
	s.mu.Lock()
	s.reach, s.reachAt = r, time.Now()
	s.mu.Unlock()
	return r, nil
}

// pathElem reports whether name can stand as one element of a path.
func pathElem(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
}

// directTarget is the direct target with the actions its permission has
// now; an error when the permission is gone.
func (s *session) directTarget(ctx context.Context) (Target, error) {
	r, err := s.targets(ctx)
	if err != nil {
		return Target{}, err
	}
	for _, t := range r.list {
		if t.same(*s.direct) {
			return t, nil
		}
	}
	return Target{}, errDenied("you may not reach %s as %s (the permission expired or was revoked)", s.direct.Asset, s.direct.SystemUser)
}

// place is where an operator's path leads.
type place struct {
	t     *Target // nil above /ASSET/SYSUSER/
	asset string  // at /ASSET, the asset
	path  string  // the path on the target ("/" at /ASSET/SYSUSER)
	top   bool    // exactly /ASSET/SYSUSER: a virtual directory to stat
	// inTree is set for the paths of the virtual tree itself, existing or
	// not (up to /ASSET/SYSUSER), which no operation may change.
	inTree bool
	shown  string // the path the operator used, cleaned
}

// where is the path to audit: the target's, or the virtual one above the
// targets.
func (p place) where() string {
	if p.t != nil {
		return p.path
	}
	return p.shown
}

func (p place) target() Target {
	if p.t != nil {
		return *p.t
	}
	return Target{Asset: p.asset}
}

// resolve finds where the absolute, cleaned path p leads.
func (s *session) resolve(ctx context.Context, p string) (place, error) {
	p = path.Clean("/" + p)
	if s.direct != nil {
		t, err := s.directTarget(ctx)
		if err != nil {
			return place{shown: p, t: s.direct, path: p}, err
		}
		return place{t: &t, path: p, shown: p}, nil
	}
	pl := place{shown: p, inTree: true}
	if p == "/" {
		return pl, nil
	}
	parts := strings.SplitN(p[1:], "/", 3)
	pl.inTree = len(parts) < 3
	r, err := s.targets(ctx)
	if err != nil {
		return pl, err
	}
	pl.asset = parts[0]
	ts := r.byAsset[parts[0]]
	if len(ts) > 0 && len(parts) == 1 {
		return pl, nil
	}
	for _, t := range ts {
		if t.SystemUser == parts[1] {
			pl.t, pl.path, pl.top = &t, "/", len(parts) == 2
			if len(parts) == 3 {
				pl.path = "/" + parts[2]
			}
			return pl, nil
		}
	}
	return pl, errMissing(p)
}

// shownPath is the operator's path for a path on target t.
func (s *session) shownPath(t Target, p string) string {
	if s.direct != nil {
		return p
	}
	if p == "/" {
		return "/" + t.Asset + "/" + t.SystemUser
	}
	return "/" + t.Asset + "/" + t.SystemUser + p
}

// client returns the session's connection to t, dialing it on first use.
// Concurrent first uses share one dial; a failed dial is tried again by the
// next operation, and a connection that drops is replaced the same way.
func (s *session) client(t Target) (*Client, error) {
	k := t.key()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, newStatus(sftp.ErrSSHFxNoConnection, "postern: the session is ending")
	}
	l := s.links[k]
	if l == nil {
		l = &link{ready: make(chan struct{})}
		s.links[k] = l
		s.mu.Unlock()
		s.dial(k, t, l)
	} else {
		s.mu.Unlock()
		<-l.ready
	}
	if l.err != nil {
		return nil, l.err
	}
	return l.c, nil
}

func (s *session) dial(k string, t Target, l *link) {
	defer close(l.ready)
	c, closer, err := s.b.Dial(s.ctx, t)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && s.closed {
		// The session ended while the dial was under way.
		closeClient(c, closer)
		err = fmt.Errorf("the session is ending")
	}
	if err != nil {
		l.err = newStatus(sftp.ErrSSHFxNoConnection, "postern: cannot connect to %s as %s: %v", t.Asset, t.SystemUser, err)
		delete(s.links, k)
		return
	}
	l.c, l.closer = c, closer
	go func() {
		c.Wait()
		s.mu.Lock()
		if s.links[k] == l {
			delete(s.links, k)
		}
		s.mu.Unlock()
	}()
}

// close ends every target connection. A second call waits for the first
// to be done.
func (s *session) close() {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	s.mu.Lock()
	s.closed = true
	links := s.links
	s.links = map[string]*link{}
	s.mu.Unlock()
	for _, l := range links {
		<-l.ready
		if l.err == nil {
			closeClient(l.c, l.closer)
		}
	}
}

// closeClient closes a target connection: the connection under the client
// first, so that closing the client does not wait on a target that has
// stopped answering.
func closeClient(c *Client, closer io.Closer) {
	if closer != nil {
		closer.Close()
	}
	c.Close()
}

// audit records e, even after the session's context ended: the last
// transfers are closed as the session ends, and they must be recorded.
func (s *session) audit(e Event) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	s.b.Audit(context.WithoutCancel(s.ctx), e)
}

// need checks that t's permission grants every action op needs, auditing
// and refusing the operation when it does not.
func (s *session) need(ev Event, actions ...string) error {
	for _, a := range actions {
		if !ev.Target.Can(a) {
			err := errDenied("%s on %s as %s needs the %q action, which your permission does not grant", ev.Op, ev.Target.Asset, ev.Target.SystemUser, a)
			s.fail(ev, err)
			return err
		}
	}
	return nil
}

// fail audits ev as failed with err.
func (s *session) fail(ev Event, err error) {
	ev.Success, ev.Err = false, err.Error()
	s.audit(ev)
}

// dirInfo is a directory of the virtual tree.
type dirInfo struct {
	name string
	mod  time.Time
}

func (d dirInfo) Name() string       { return d.name }
func (d dirInfo) Size() int64        { return 0 }
func (d dirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (d dirInfo) ModTime() time.Time { return d.mod }
func (d dirInfo) IsDir() bool        { return true }
func (d dirInfo) Sys() any           { return nil }
