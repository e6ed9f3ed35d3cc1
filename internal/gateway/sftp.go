package gateway

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/postern/postern/internal/gateway/sftpproxy"
)

// serveSFTP answers an operator's sftp subsystem (sftp, and scp since
// OpenSSH 9): the virtual tree of their assets, or the one target named
// in the login name.
func (s *Server) serveSFTP(ctx context.Context, conn *ssh.ServerConn, user User, login Login, ch ssh.Channel) {
	// Ending any of its target sessions (terminate, a lapsed permission,
	// the maximum duration) ends the whole subsystem.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b := &sftpBackend{s: s, user: user, remote: remote(conn), sessions: map[string]string{}, ch: ch, cancel: cancel}
	var direct *sftpproxy.Target
	if login.Asset != "" {
		asset, err := s.core.FindAsset(ctx, user.ID, login.Asset)
		if err != nil {
			fail(ch, err.Error(), 1)
			return
		}
		su, err := pickSystemUser(asset, login.SystemUser)
		if err != nil {
			fail(ch, err.Error(), 1)
			return
		}
		t := sftpTarget(asset, su)
		direct = &t
	}
	if err := sftpproxy.Serve(ctx, ch, b, direct); err != nil && direct != nil {
		fail(ch, "postern: "+err.Error(), 1)
		return
	}
	exitStatus(ch, 0)
}

func sftpTarget(a Asset, su SystemUser) sftpproxy.Target {
	return sftpproxy.Target{Asset: a.Name, SystemUser: su.Name, AssetID: a.ID, SystemUserID: su.ID, Actions: su.Actions}
}

// sftpBackend gives the SFTP unit the operator's reach, connections made
// through the core (permission check, session record, vaulted
// credential, pinned host key) and the audit log.
type sftpBackend struct {
	s      *Server
	user   User
	remote string
	ch     ssh.Channel        // the operator's, for the message when a session is ended
	cancel context.CancelFunc // ends the subsystem

	mu       sync.Mutex
	sessions map[string]string // asset id + "/" + system user id -> session id
}

func (b *sftpBackend) Targets(ctx context.Context) ([]sftpproxy.Target, error) {
	assets, _, err := b.s.core.Assets(ctx, b.user.ID, AssetQuery{})
	if err != nil {
		return nil, err
	}
	var out []sftpproxy.Target
	for _, a := range assets {
		for _, su := range a.SystemUsers {
			out = append(out, sftpTarget(a, su))
		}
	}
	return out, nil
}

// Dial logs in to the target on a connection of the subsystem's own, not
// one shared with the operator's shells (sshproxy.Pool): a bulk transfer
// on the same TCP connection as a shell would queue the shell's echo behind
// its data, as scp over OpenSSH's ControlMaster does.
func (b *sftpBackend) Dial(ctx context.Context, t sftpproxy.Target) (*sftpproxy.Client, io.Closer, error) {
	c, err := b.s.core.Connect(ctx, b.user.ID, t.AssetID, t.SystemUserID, "sftp", b.remote)
	if err != nil {
		return nil, nil, err
	}
	asset := Asset{ID: t.AssetID, Name: t.Asset}
	client, err := b.s.dial(ctx, b.user, asset, &c)
	if err != nil {
		b.s.core.Finish(context.Background(), Ending{SessionID: c.SessionID, Reason: err.Error()})
		return nil, nil, fmt.Errorf("%s: %v", t.Asset, err)
	}
	sc, err := sftpproxy.NewClient(client.Client)
	if err != nil {
		client.Close()
		reason := "the target has no SFTP service: " + err.Error()
		b.s.core.Finish(context.Background(), Ending{SessionID: c.SessionID, Reason: reason})
		return nil, nil, fmt.Errorf("%s: %s", t.Asset, reason)
	}
	b.mu.Lock()
	b.sessions[t.AssetID+"/"+t.SystemUserID] = c.SessionID
	b.mu.Unlock()
	// Live like a shell session: terminate, the permission re-check and
	// the maximum duration apply (not the idle timeout: a long transfer
	// has no operator input to count).
	live := &liveSession{access: Access{UserID: b.user.ID, AssetID: t.AssetID, SystemUserID: t.SystemUserID}, assetName: t.Asset,
		stop: b.cancel, ch: b.ch, start: time.Now(), noIdle: true}
	b.s.track(c.SessionID, live)
	return sc, closerFunc(func() error {
		b.s.untrack(c.SessionID)
		err := client.Close()
		end := Ending{SessionID: c.SessionID, Success: true, Reason: "sftp session closed"}
		if r, by := live.ended(); r != "" {
			end.Reason, end.Success, end.TerminatedBy = r, false, by
		}
		b.s.core.Finish(context.Background(), end)
		return err
	}), nil
}

func (b *sftpBackend) Audit(ctx context.Context, e sftpproxy.Event) {
	b.mu.Lock()
	sid := b.sessions[e.Target.AssetID+"/"+e.Target.SystemUserID]
	b.mu.Unlock()
	b.s.core.RecordFileOp(context.Background(), FileOp{SessionID: sid, UserID: b.user.ID, Username: b.user.Username, RemoteAddr: b.remote,
		AssetID: e.Target.AssetID, Asset: e.Target.Asset, SystemUserID: e.Target.SystemUserID, SystemUser: e.Target.SystemUser,
		Operation: e.Op, Path: e.Path, Path2: e.Path2, Size: e.Size, SHA256: e.SHA256, Success: e.Success, Reason: e.Err, At: e.At})
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }
