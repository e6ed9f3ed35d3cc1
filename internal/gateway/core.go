// Package gateway is what operators connect to: an SSH server that
// authenticates them as Postern users, works out which asset and system
// user they want (from the login name, or later a menu), asks the core for
// the connection, and hands the channel to the protocol unit that proxies
// it to the target.
//
// The gateway reaches the core only through the Core interface, the same
// contract the component API offers to separate gateway nodes. It never
// opens the database and keeps a credential no longer than the connection
// that needed it.
package gateway

import (
	"context"
	"errors"
	"time"

	"golang.org/x/crypto/ssh"
)

// User is an operator who passed the first authentication step.
type User struct {
	ID, Username, Name string
	NeedOTP            bool // a one-time code must follow before the login counts
}

// SystemUser is a credential the user may use on an asset, with the
// actions the permission grants.
type SystemUser struct {
	ID, Name, Username, Protocol string
	Actions                      []string
}

// Asset is a target the user may reach, with the system users they may
// use on it.
type Asset struct {
	ID, Name, IP string
	SSHPort      int // 0 when the asset has no SSH protocol
	SystemUsers  []SystemUser
}

// AssetQuery narrows an asset listing.
type AssetQuery struct {
	Search        string // substring of name or address
	Node          string // only assets in this node's subtree
	Offset, Limit int
}

// Node is a folder of the asset tree, with how many reachable assets its
// subtree holds.
type Node struct {
	ID, Name, Parent string
	Assets           int
}

// Credential is what logs in to the target. It is never logged and never
// kept after the connection is made.
type Credential struct {
	Username, Password, PrivateKey string
}

// Connection is an authorized (user, asset, system user) with its session
// record already opened by the core.
type Connection struct {
	SessionID  string
	Address    string // host:port of the target's SSH service
	Credential Credential
}

// Errors a Core returns that the gateway shows the operator as they are.
var (
	ErrBadCredentials = errors.New("invalid username or password")
	ErrNoSuchAsset    = errors.New("no such asset, or you may not reach it")
	ErrDenied         = errors.New("permission denied")
	ErrHostKeyChanged = errors.New("the target's host key has changed since it was first seen; refusing to connect (an administrator must clear the pinned key if the change is expected)")
)

// Core is the gateway's whole view of the core.
type Core interface {
	// LoginPassword checks a password login; every attempt is logged and
	// failures count towards the lockout.
	LoginPassword(ctx context.Context, username, password, remoteAddr string) (User, error)
	// HasKey reports whether key is one of the user's registered keys. It
	// has no side effects: SSH clients offer keys they do not go on to use.
	HasKey(ctx context.Context, username string, key ssh.PublicKey) (bool, error)
	// LoginKey completes a public-key login whose signature the SSH layer
	// verified: it checks the account is usable and logs the login.
	LoginKey(ctx context.Context, username string, key ssh.PublicKey, remoteAddr string) (User, error)
	// LoginRefused logs a login that failed without reaching a method that
	// logs itself: a client whose offered public keys were all unknown.
	LoginRefused(ctx context.Context, username, method, remoteAddr, reason string)
	// LoginOTP checks the one-time code of a user who passed the first step.
	LoginOTP(ctx context.Context, u User, code, remoteAddr string) error
	// Assets lists what the user may reach now, ordered by name.
	Assets(ctx context.Context, userID string, q AssetQuery) ([]Asset, int, error)
	// Nodes lists the nodes holding assets the user may reach, with their
	// ancestors, so the menu can show a tree.
	Nodes(ctx context.Context, userID string) ([]Node, error)
	// FindAsset returns one reachable asset by exact name (or address, when
	// that is unambiguous).
	FindAsset(ctx context.Context, userID, name string) (Asset, error)
	// Connect authorizes a connection for protocol ("ssh" or "sftp"),
	// opens the session record and hands out the credential.
	Connect(ctx context.Context, userID, assetID, systemUserID, protocol, remoteAddr string) (Connection, error)
	// Finish closes a session record.
	Finish(ctx context.Context, e Ending)
	// Allowed re-checks, during sessions, that their permissions still
	// hold: one answer per access, in order. The gateway asks about all
	// its live sessions at once, so that a thousand sessions of one user
	// cost one look at that user.
	Allowed(ctx context.Context, accesses []Access) []bool
	// PinHostKey checks a target's host key against the one pinned on first
	// use (pinning it if none is), returning ErrHostKeyChanged on mismatch.
	PinHostKey(ctx context.Context, assetID, address string, key ssh.PublicKey) error
	// PinnedKeyType returns the type of the pinned key ("" when none), so the
	// gateway asks the target for exactly that type.
	PinnedKeyType(ctx context.Context, assetID, address string) string
	// Tasks delivers the core's requests to this gateway until ctx ends.
	Tasks(ctx context.Context) <-chan Task
	// CheckCommand asks the command filter about a command line about to
	// run in a session.
	CheckCommand(ctx context.Context, sessionID, line string) Verdict
	// RecordCommands stores commands run in sessions.
	RecordCommands(ctx context.Context, cs []Command)
	// RecordFileOp stores one file operation (upload, download, delete, ...).
	RecordFileOp(ctx context.Context, op FileOp)
}

// FileOp is one file operation through the gateway. It names who and
// where itself, since an operation refused before any connection has no
// session.
type FileOp struct {
	SessionID                    string // "" when no connection was made
	UserID, Username, RemoteAddr string
	AssetID, Asset               string
	SystemUserID, SystemUser     string
	Operation                    string
	Path, Path2                  string
	Size                         int64
	SHA256                       string
	Success                      bool
	Reason                       string
	At                           time.Time
}

// Command filter actions.
const (
	ActionAccept = "accept"
	ActionWarn   = "warn"
	ActionReject = "reject"
)

// Verdict is the command filter's answer.
type Verdict struct {
	Action string // ActionAccept, ActionWarn or ActionReject
	Risk   int
	Rule   string // the deciding filter's name
}

// Command is one command line run (or refused) in a session.
type Command struct {
	SessionID     string
	Input, Output string
	Risk          int
	Action        string
	At            time.Time
}

// Ending is how a session ended.
type Ending struct {
	SessionID    string
	Success      bool
	Reason       string
	TerminatedBy string // who ended it, when someone did
	Recorded     bool   // a recording of it was stored
}

// Task kinds.
const (
	TaskTerminate = "terminate"
)

// Task is a request from the core to the gateways.
type Task struct {
	Kind      string
	SessionID string
	By        string // who asked, for the session record
	Done      func() // called by the gateway that carried it out
}

// Access is a user's use of an asset as a system user.
type Access struct {
	UserID, AssetID, SystemUserID string
}
