// Package sftpproxy is the gateway's SFTP protocol unit: it serves the
// "sftp" subsystem (used by sftp, and by scp since OpenSSH 9.0) on an
// operator's session channel and carries every operation out on the
// targets through SFTP clients the gateway opens for it.
//
// # The tree the operator sees
//
// Logged in without a target (ssh alice@bastion), the operator sees a
// virtual tree:
//
//	/                      the assets they may reach, as directories
//	/ASSET/                the system users they may use on it
//	/ASSET/SYSUSER/...     the target's own filesystem, from its root "/"
//
// so /web-01/root/etc/hosts is /etc/hosts on web-01 as the system user
// "root". The target's root, not the system user's home, is what
// /ASSET/SYSUSER/ maps to: every path then has exactly one meaning, and
// the home is one "cd" away. The first operation under /ASSET/SYSUSER/
// connects to that target; the connection is reused for the rest of the
// session. Asset and system user names that cannot be a path element (empty,
// ".", "..", or holding "/") are left out of the tree.
//
// Logged in with a target in the login name (alice@web-01@bastion or
// alice@root@web-01@bastion, which the gateway passes as Serve's direct
// target), the operator's paths are the target's own, and relative paths
// start in the system user's home, exactly as with sftp straight to the
// target.
//
// # What each operation needs
//
// Every operation is decided by the actions of the permission behind the
// target (Target.Actions), re-read from Backend.Targets at most every two
// seconds so that revoked permissions and removed actions apply to the
// next operation:
//
//	connect              listing, stat, realpath, readlink, statvfs (a target
//	                     without it is not in the tree at all)
//	download             opening a file for reading (get)
//	upload               opening a file for writing, creating or truncating
//	                     (put), mkdir, setstat (chmod, chown, times, size),
//	                     symlink and hard link
//	delete               remove, rmdir
//	upload and delete    rename: the old name goes away and a new one appears
//
// A refused operation gets SSH_FX_PERMISSION_DENIED with a message naming
// the missing action, and is audited as a failure. The top two levels of
// the virtual tree cannot be changed.
//
// # Audit
//
// Operations that change or transfer something (upload, download, delete,
// rmdir, mkdir, rename, symlink, link, setstat) are audited through
// Backend.Audit, whether they succeed, fail or are refused. Listings,
// stats, realpath, readlink and statvfs are not, refused or not: clients
// issue them constantly, and they change nothing.
// A transfer is one event, sent when the client closes the file, with the
// byte count and the SHA-256 of the data, computed as it streams through
// (see Event.SHA256); nothing is ever read back to hash it.
//
// # Throughput
//
// The server is pkg/sftp's RequestServer, with four additions that keep a
// transfer through the proxy close to one straight to the target: it
// answers limits@openssh.com (limits.go), so OpenSSH clients move 255 KiB
// per request rather than 32 KiB; the client to the target asks the target
// the same question and, where it has an answer, moves as much per request
// too (NewClient, client.go); downloads in small requests are read ahead
// from the target in large concurrent blocks (readahead.go); and uploads
// go on to the target as concurrent requests (ClientOptions).
//
// # Bounds
//
// A session may have maxFiles (256) files open at once, which the limits
// extension tells clients. Read-ahead blocks and out-of-order data waiting
// to be hashed come out of one budget for the whole gateway (maxBuffered,
// budget.go); when it is spent, downloads are read straight from the
// target and a reordered transfer gets no digest. Operations still waiting
// on a target closeGrace (30 s) after the client went are cut off with the
// target connection.
//
// # Known differences from a direct connection
//
// The mode an open asks for when it creates a file is not passed on
// (pkg/sftp's client cannot send it), so new files get the target's
// default mode; put -p and chmod set modes as usual. Listings show numeric
// owners and groups. An open file stays usable until it is closed even if
// the permission is revoked meanwhile; the gateway ends the whole session
// by cancelling Serve's context.
package sftpproxy

import (
	"context"
	"errors"
	"io"
	"math"
	"sync"
	"time"

	"github.com/pkg/sftp"
)

// The actions this package consults, as the permission engine names them.
const (
	ActionConnect  = "connect"
	ActionUpload   = "upload"
	ActionDownload = "download"
	ActionDelete   = "delete"
)

// Operations, as Event.Op names them.
const (
	OpUpload   = "upload"   // a file opened for writing, from open to close
	OpDownload = "download" // a file opened for reading, from open to close
	OpDelete   = "delete"   // remove a file
	OpRmdir    = "rmdir"
	OpMkdir    = "mkdir"
	OpRename   = "rename"  // Path to Path2
	OpSymlink  = "symlink" // a link at Path2 pointing to Path
	OpLink     = "link"    // a hard link at Path2 to Path
	OpSetstat  = "setstat" // chmod, chown, times or size; Path2 says which
)

// Target is one (asset, system user) the operator may use, as the virtual
// tree shows it.
type Target struct {
	Asset, SystemUser     string   // names: the tree's path elements
	AssetID, SystemUserID string   // identify the pair to the gateway
	Actions               []string // connect, upload, download, delete, ...
}

// Can reports whether the target's permission grants action.
func (t Target) Can(action string) bool {
	for _, a := range t.Actions {
		if a == action {
			return true
		}
	}
	return false
}

func (t Target) key() string {
	return t.AssetID + "\x00" + t.SystemUserID + "\x00" + t.Asset + "\x00" + t.SystemUser
}

// same reports whether u is the same (asset, system user) as t, by id when
// the ids are known.
func (t Target) same(u Target) bool {
	if t.AssetID != "" || t.SystemUserID != "" {
		return t.AssetID == u.AssetID && t.SystemUserID == u.SystemUserID
	}
	return t.Asset == u.Asset && t.SystemUser == u.SystemUser
}

// Backend is what the package needs from the gateway: the operator's reach,
// connections to targets, and the audit log. Its methods are called from
// several goroutines at once.
type Backend interface {
	// Targets lists what the operator may reach now. Serve calls it for
	// the virtual tree and again at most every two seconds to pick up
	// revoked permissions and changed actions; in direct mode the direct
	// target must be among them for operations to go on.
	Targets(ctx context.Context) ([]Target, error)
	// Dial opens an SFTP client to the target as the system user; the
	// gateway does the permission check, credentials and host key
	// pinning. The closer, when not nil, is closed with the client, and
	// first (it is typically the SSH connection under it). NewClient
	// makes the client. Serve dials each target at most once at a time
	// and again only after the connection dropped.
	Dial(ctx context.Context, t Target) (*Client, io.Closer, error)
	// Audit records one operation.
	Audit(ctx context.Context, e Event)
}

// Event is one audited operation.
type Event struct {
	Target Target
	Op     string // one of the Op constants
	// Path is the path on the target (the virtual path when the operation
	// was refused above /ASSET/SYSUSER/); Path2 is the new name of a
	// rename or link, and for setstat the attributes changed.
	Path, Path2 string
	// Size is the number of bytes transferred (for a read-write handle,
	// those written).
	Size int64
	// SHA256 is the hex digest of the bytes transferred, set only for a
	// successful transfer whose bytes formed one run from offset 0 with
	// no gaps or overlaps, whatever order the packets arrived in (SFTP
	// clients pipeline requests and the server handles them concurrently,
	// so a bounded reorder buffer puts them back in order). For an upload
	// that truncated or created the file, that is the digest of the file
	// as written. Anything else (a resumed transfer, random access, more
	// out-of-order data than the buffer holds) leaves it empty: the digest
	// is never guessed and the file is never read back to compute it.
	SHA256  string
	Success bool
	Err     string // why it failed, for the operator and the auditor
	At      time.Time
}

// Serve serves the SFTP protocol on ch, an operator's session channel
// after its "subsystem sftp" request, until the client ends it or ctx is
// done, then closes every target connection it opened. With direct set,
// the operator works on that target alone (see the package comment); Serve
// then connects before answering the client and returns the error, without
// having used ch, when it cannot, so the gateway can tell the operator.
func Serve(ctx context.Context, ch io.ReadWriteCloser, b Backend, direct *Target) error {
	s := newSession(ctx, b, direct)
	defer s.close()
	opts := []sftp.RequestServerOption{sftp.WithRSMaxTxPacket(maxReadLength)}
	if direct != nil {
		t, err := s.directTarget(ctx)
		if err != nil {
			return err
		}
		c, err := s.client(t)
		if err != nil {
			return err
		}
		// Relative paths start in the home, as with sftp straight to the
		// target.
		if home, err := c.Getwd(); err == nil && home != "" {
			s.start = home
			opts = append(opts, sftp.WithStartDirectory(home))
		}
	}
	// Once the client has gone, operations still waiting on a target get
	// closeGrace to finish before the target connections are closed under
	// them: a target that never answers (an open of a pipe no one
	// writes, a dead NFS mount) must not keep the session, and its
	// connections, for as long as the operator's SSH connection lasts.
	grace := time.AfterFunc(math.MaxInt64, s.close) // set going by endWatch
	defer grace.Stop()
	in := &endWatch{ReadWriteCloser: newLimitsConn(ch), ended: func() { grace.Reset(closeGrace) }}
	srv := sftp.NewRequestServer(in, sftp.Handlers{FileGet: s, FilePut: s, FileCmd: s, FileList: s}, opts...)
	stop := context.AfterFunc(ctx, func() {
		// The target connections too: operations waiting on a target
		// must not hold the end of the session up.
		srv.Close()
		s.close()
	})
	defer stop()
	err := srv.Serve()
	if errors.Is(err, io.EOF) || ctx.Err() != nil {
		// The client hung up, or the gateway ended the session.
		return nil
	}
	return err
}

// closeGrace is how long operations under way may go on after the client
// has ended the session (see Serve).
var closeGrace = 30 * time.Second

// endWatch calls ended, once, when the server stops reading the client:
// a read fails (the client ended the session or its connection, or sent
// what is not SFTP) or the server closes the channel.
type endWatch struct {
	io.ReadWriteCloser
	once  sync.Once
	ended func()
}

func (e *endWatch) Read(p []byte) (int, error) {
	n, err := e.ReadWriteCloser.Read(p)
	if err != nil {
		e.once.Do(e.ended)
	}
	return n, err
}

func (e *endWatch) Close() error {
	e.once.Do(e.ended)
	return e.ReadWriteCloser.Close()
}

// maxReadLength is the most data one read or write request may carry, as
// limits@openssh.com tells clients (limits.go): what OpenSSH's own server
// allows, within pkg/sftp's 256 KiB packet limit.
const maxReadLength = 256<<10 - 1024

// ClientOptions are the github.com/pkg/sftp client options for a target
// connection that this package relies on for throughput: a client's large
// reads and writes go to the target as concurrent requests, up to 64 at a
// time per file. NewClient adds the request size the target allows.
func ClientOptions() []sftp.ClientOption {
	return []sftp.ClientOption{
		sftp.UseConcurrentReads(true),
		sftp.UseConcurrentWrites(true),
		sftp.MaxConcurrentRequestsPerFile(64),
	}
}
