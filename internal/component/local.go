// Package component is the core's side of the contract with gateways:
// everything a gateway may ask (authenticate an operator, list and find
// what they may reach, authorize a connection and hand out its credential,
// open and close the session record, pin target host keys). Local answers
// in-process for `postern serve`; the component API over HTTP will expose
// the same calls to separate gateway nodes.
package component

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/postern/postern/internal/access"
	"github.com/postern/postern/internal/cmdfilter"
	"github.com/postern/postern/internal/fault"
	"github.com/postern/postern/internal/gateway"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/inventory"
	"github.com/postern/postern/internal/store"
)

// Local implements gateway.Core over the core's services.
type Local struct {
	hub       *Hub
	filters   *cmdfilter.Service
	db        *store.DB
	identity  *identity.Service
	inventory *inventory.Service
	access    *access.Service
	now       func() time.Time
}

// NewLocal returns the in-process core for a gateway.
func NewLocal(db *store.DB, id *identity.Service, inv *inventory.Service, acc *access.Service, filters *cmdfilter.Service, hub *Hub) *Local {
	return &Local{db: db, identity: id, inventory: inv, access: acc, filters: filters, hub: hub, now: time.Now}
}

var _ gateway.Core = (*Local)(nil)

// loginErr maps identity refusals to what the SSH layer shows.
func loginErr(err error) error {
	if e := fault.As(err); e != nil && (e.Kind == fault.Unauthorized || e.Kind == fault.Locked) {
		if e.Kind == fault.Locked {
			return errors.New(e.Detail)
		}
		return gateway.ErrBadCredentials
	}
	return err
}

func gwUser(u store.User) gateway.User {
	return gateway.User{ID: u.ID, Username: u.Username, Name: u.Name}
}

// LoginPassword implements gateway.Core.
func (l *Local) LoginPassword(ctx context.Context, username, password, remoteAddr string) (gateway.User, error) {
	u, err := l.identity.Login(ctx, identity.Attempt{Username: username, Password: password, IP: remoteAddr, Type: "ssh"})
	if err != nil {
		return gateway.User{}, loginErr(err)
	}
	g := gwUser(u)
	g.NeedOTP = u.OTPEnabled
	return g, nil
}

// HasKey implements gateway.Core.
func (l *Local) HasKey(ctx context.Context, username string, key ssh.PublicKey) (bool, error) {
	u, err := l.db.UserByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// The user's keys came with the user.
	fp := ssh.FingerprintSHA256(key)
	return slices.ContainsFunc(u.PublicKeys, func(k store.PublicKey) bool { return k.Fingerprint == fp }), nil
}

// LoginKey implements gateway.Core.
func (l *Local) LoginKey(ctx context.Context, username string, key ssh.PublicKey, remoteAddr string) (gateway.User, error) {
	u, err := l.identity.Login(ctx, identity.Attempt{Username: username, PublicKey: key, IP: remoteAddr, Type: "ssh"})
	if err != nil {
		return gateway.User{}, loginErr(err)
	}
	return gwUser(u), nil
}

// LoginRefused implements gateway.Core.
func (l *Local) LoginRefused(ctx context.Context, username, method, remoteAddr, reason string) {
	l.identity.LogFailure(ctx, username, "ssh", method, remoteAddr, reason)
}

// LoginOTP implements gateway.Core.
func (l *Local) LoginOTP(ctx context.Context, gu gateway.User, code, remoteAddr string) error {
	u, err := l.db.User(ctx, gu.ID)
	if err != nil {
		return err
	}
	return loginErr(l.identity.CheckOTP(ctx, u, code, remoteAddr))
}

// usable reports whether the user may act now: a user disabled, expired
// or locked while connected loses their sessions too.
func (l *Local) usable(ctx context.Context, userID string) bool {
	u, err := l.db.User(ctx, userID)
	return err == nil && identity.Usable(&u, l.now()) == ""
}

// Assets implements gateway.Core.
func (l *Local) Assets(ctx context.Context, userID string, q gateway.AssetQuery) ([]gateway.Asset, int, error) {
	if !l.usable(ctx, userID) {
		return nil, 0, nil
	}
	grants, total := l.access.Engine().Assets(userID, l.now(), access.AssetQuery{Search: q.Search, Node: q.Node, Offset: q.Offset, Limit: q.Limit})
	out, err := l.describe(ctx, grants)
	return out, total, err
}

// Nodes implements gateway.Core.
func (l *Local) Nodes(ctx context.Context, userID string) ([]gateway.Node, error) {
	if !l.usable(ctx, userID) {
		return nil, nil
	}
	counts := l.access.Engine().Nodes(userID, l.now())
	ids := make([]string, len(counts))
	for i, c := range counts {
		ids[i] = c.ID
	}
	names, err := l.db.NodeNames(ctx, ids)
	if err != nil {
		return nil, err
	}
	parents, err := l.db.NodeParents(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]gateway.Node, 0, len(counts))
	for _, c := range counts {
		if name, ok := names[c.ID]; ok {
			out = append(out, gateway.Node{ID: c.ID, Name: name, Parent: parents[c.ID], Assets: c.Assets})
		}
	}
	return out, nil
}

// describe turns engine grants into gateway assets with names and ports.
func (l *Local) describe(ctx context.Context, grants []access.Grant) ([]gateway.Asset, error) {
	ids := make([]string, len(grants))
	var suids []string
	for i, g := range grants {
		ids[i] = g.AssetID
		for _, su := range g.SystemUsers {
			suids = append(suids, su.ID)
		}
	}
	assets, err := l.db.AssetsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]store.Asset, len(assets))
	for _, a := range assets {
		byID[a.ID] = a
	}
	sus, err := l.db.SystemUsersByID(ctx, fault.Dedupe(suids))
	if err != nil {
		return nil, err
	}
	out := make([]gateway.Asset, 0, len(grants))
	for _, g := range grants {
		a, ok := byID[g.AssetID]
		if !ok {
			continue
		}
		ga := gateway.Asset{ID: a.ID, Name: a.Name, IP: a.IP, SSHPort: sshPort(a)}
		for _, sg := range g.SystemUsers {
			su, ok := sus[sg.ID]
			if !ok || !sg.Actions.Has(access.ActionConnect) {
				continue
			}
			ga.SystemUsers = append(ga.SystemUsers, gateway.SystemUser{ID: su.ID, Name: su.Name, Username: su.Username,
				Protocol: su.Protocol, Actions: sg.Actions.Names()})
		}
		out = append(out, ga)
	}
	return out, nil
}

func sshPort(a store.Asset) int {
	for _, p := range a.Protocols {
		if p.Name == "ssh" {
			return p.Port
		}
	}
	return 0
}

// FindAsset implements gateway.Core. A name the user may not reach gets
// the same answer as a name that does not exist.
func (l *Local) FindAsset(ctx context.Context, userID, name string) (gateway.Asset, error) {
	if !l.usable(ctx, userID) {
		return gateway.Asset{}, gateway.ErrNoSuchAsset
	}
	now := l.now()
	var grants []access.Grant
	a, err := l.db.AssetByName(ctx, name)
	switch {
	case err == nil:
		if g, ok := l.access.Engine().Grant(userID, a.ID, now); ok {
			grants = []access.Grant{g}
		}
	case errors.Is(err, store.ErrNotFound):
		// Not a name: an address is accepted when it picks exactly one
		// reachable asset.
		if net.ParseIP(name) == nil {
			break
		}
		page, _ := l.access.Engine().Assets(userID, now, access.AssetQuery{Search: name})
		var hits []access.Grant
		cands, err := l.db.AssetsByID(ctx, grantIDs(page))
		if err != nil {
			return gateway.Asset{}, err
		}
		for _, c := range cands {
			if c.IP == name {
				if g, ok := l.access.Engine().Grant(userID, c.ID, now); ok {
					hits = append(hits, g)
				}
			}
		}
		if len(hits) == 1 {
			grants = hits
		}
	default:
		return gateway.Asset{}, err
	}
	if len(grants) == 0 {
		return gateway.Asset{}, gateway.ErrNoSuchAsset
	}
	out, err := l.describe(ctx, grants)
	if err != nil || len(out) == 0 {
		return gateway.Asset{}, gateway.ErrNoSuchAsset
	}
	return out[0], nil
}

func grantIDs(gs []access.Grant) []string {
	ids := make([]string, len(gs))
	for i, g := range gs {
		ids[i] = g.AssetID
	}
	return ids
}

// Connect implements gateway.Core. The credential is opened only after
// the permission check passes, and every hand-out is a session row.
func (l *Local) Connect(ctx context.Context, userID, assetID, systemUserID, protocol, remoteAddr string) (gateway.Connection, error) {
	u, err := l.db.User(ctx, userID)
	if err != nil || identity.Usable(&u, l.now()) != "" {
		return gateway.Connection{}, gateway.ErrDenied
	}
	if !l.access.Engine().Check(userID, assetID, systemUserID, access.ActionConnect, l.now()) {
		return gateway.Connection{}, gateway.ErrDenied
	}
	a, err := l.db.Asset(ctx, assetID)
	if err != nil {
		return gateway.Connection{}, gateway.ErrNoSuchAsset
	}
	port := sshPort(a)
	if port == 0 {
		return gateway.Connection{}, errors.New(a.Name + " has no SSH protocol")
	}
	su, err := l.db.SystemUser(ctx, systemUserID)
	if err != nil {
		return gateway.Connection{}, gateway.ErrDenied
	}
	cred, err := l.inventory.OpenCredential(ctx, systemUserID)
	if err != nil {
		return gateway.Connection{}, errors.New("the system user's credential cannot be opened")
	}
	sess := store.Session{ID: identity.NewID(), UserID: u.ID, Username: u.Username, AssetID: a.ID, Asset: a.Name,
		SystemUserID: su.ID, SystemUser: su.Name, Protocol: protocol, LoginFrom: "ST", RemoteAddr: remoteAddr,
		StartTime: l.now(), IsSuccess: true}
	if err := l.db.CreateSession(ctx, &sess); err != nil {
		return gateway.Connection{}, err
	}
	return gateway.Connection{
		SessionID:  sess.ID,
		Address:    net.JoinHostPort(a.IP, strconv.Itoa(port)),
		Credential: gateway.Credential{Username: cred.Username, Password: cred.Password, PrivateKey: cred.PrivateKey},
	}, nil
}

// Finish implements gateway.Core.
func (l *Local) Finish(ctx context.Context, e gateway.Ending) {
	_ = l.db.FinishSession(ctx, e.SessionID, l.now(), e.Success, e.Reason, e.TerminatedBy, e.Recorded)
}

// Tasks implements gateway.Core.
func (l *Local) Tasks(ctx context.Context) <-chan gateway.Task { return l.hub.subscribe(ctx) }

// Allowed implements gateway.Core.
func (l *Local) Allowed(ctx context.Context, accesses []gateway.Access) []bool {
	now, e := l.now(), l.access.Engine()
	usable := map[string]bool{}
	out := make([]bool, len(accesses))
	for i, a := range accesses {
		ok, seen := usable[a.UserID]
		if !seen {
			ok = l.usable(ctx, a.UserID)
			usable[a.UserID] = ok
		}
		out[i] = ok && e.Check(a.UserID, a.AssetID, a.SystemUserID, access.ActionConnect, now)
	}
	return out
}

// PinHostKey implements gateway.Core.
func (l *Local) PinHostKey(ctx context.Context, assetID, address string, key ssh.PublicKey) error {
	k := store.HostKey{AssetID: assetID, Address: address, KeyType: key.Type(),
		Key: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))), Fingerprint: ssh.FingerprintSHA256(key), FirstSeen: l.now()}
	pinned, err := l.db.PinHostKey(ctx, k)
	if err != nil {
		return err
	}
	if pinned.Key != k.Key {
		return gateway.ErrHostKeyChanged
	}
	return nil
}

// PinnedKeyType implements gateway.Core.
func (l *Local) PinnedKeyType(ctx context.Context, assetID, address string) string {
	k, err := l.db.PinnedHostKey(ctx, assetID, address)
	if err != nil {
		return ""
	}
	return k.KeyType
}

// CheckCommand implements gateway.Core.
func (l *Local) CheckCommand(ctx context.Context, sessionID, line string) gateway.Verdict {
	if l.filters == nil {
		return gateway.Verdict{Action: gateway.ActionAccept}
	}
	ss, err := l.db.Session(ctx, sessionID)
	if err != nil {
		// A command of a session the core does not know is not run.
		return gateway.Verdict{Action: gateway.ActionReject, Risk: cmdfilter.RiskReject, Rule: "unknown session"}
	}
	u, err := l.db.User(ctx, ss.UserID)
	if err != nil {
		return gateway.Verdict{Action: gateway.ActionReject, Risk: cmdfilter.RiskReject, Rule: "unknown user"}
	}
	v := l.filters.Check(cmdfilter.Subject{UserID: u.ID, Groups: u.Groups, AssetID: ss.AssetID, SystemUserID: ss.SystemUserID}, line)
	return gateway.Verdict{Action: v.Action, Risk: v.Risk, Rule: v.Rule}
}

// RecordCommands implements gateway.Core.
func (l *Local) RecordCommands(ctx context.Context, cs []gateway.Command) {
	sessions := map[string]store.Session{}
	rows := make([]store.Command, 0, len(cs))
	for _, c := range cs {
		ss, ok := sessions[c.SessionID]
		if !ok {
			var err error
			if ss, err = l.db.Session(ctx, c.SessionID); err != nil {
				continue
			}
			sessions[c.SessionID] = ss
		}
		rows = append(rows, store.Command{SessionID: ss.ID, UserID: ss.UserID, Username: ss.Username, AssetID: ss.AssetID, Asset: ss.Asset,
			SystemUserID: ss.SystemUserID, SystemUser: ss.SystemUser, Input: c.Input, Output: c.Output, RiskLevel: c.Risk,
			Action: c.Action, Timestamp: c.At})
	}
	_ = l.db.AddCommands(ctx, rows)
}

// RecordFileOp implements gateway.Core.
func (l *Local) RecordFileOp(ctx context.Context, op gateway.FileOp) {
	_ = l.db.AddFTPLog(ctx, &store.FTPLog{SessionID: op.SessionID, UserID: op.UserID, Username: op.Username, AssetID: op.AssetID,
		Asset: op.Asset, SystemUserID: op.SystemUserID, SystemUser: op.SystemUser, RemoteAddr: op.RemoteAddr, Operation: op.Operation,
		Path: op.Path, Path2: op.Path2, Size: op.Size, SHA256: op.SHA256, IsSuccess: op.Success, Reason: op.Reason, Datetime: op.At})
}
