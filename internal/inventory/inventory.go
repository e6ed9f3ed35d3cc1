// Package inventory knows the targets Postern guards: platforms (kinds of
// asset and the protocols they speak), assets, the asset tree of nodes,
// and system users (the credentials used on assets, sealed by the vault
// before they are stored and never handed back through the API).
//
// It validates every write, records it in the operate log and tells its
// Observer (the permission engine) at once. It does not decide who may
// reach an asset; that is the access package.
package inventory

import (
	"context"
	"errors"
	"time"

	"github.com/postern/postern/internal/audit"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/query"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/vault"
)

// Observer is told of every change that can alter who reaches what.
type Observer interface {
	AssetsChanged(assets []store.Asset)
	AssetDeleted(id string)
	NodeChanged(n store.Node)
	NodeDeleted(id string)
	// SystemUserDeleted names the rules that granted the deleted system user.
	SystemUserDeleted(ctx context.Context, permIDs []string)
}

// Service is the inventory service.
type Service struct {
	db    *store.DB
	vault *vault.Vault
	obs   Observer
	now   func() time.Time
}

// New returns an inventory service.
func New(db *store.DB, v *vault.Vault, obs Observer) *Service {
	return &Service{db: db, vault: v, obs: obs, now: time.Now}
}

// Builtin platforms. Their ids are part of the API contract and never
// change: "2" is Linux and "3" MySQL, as JumpServer's API guide uses them.
var Builtin = []store.Platform{
	{ID: 1, Name: "Unix", Category: "host", Type: "unix", Protocols: []store.Protocol{{Name: "ssh", Port: 22}, {Name: "sftp", Port: 22}}},
	{ID: 2, Name: "Linux", Category: "host", Type: "linux", Protocols: []store.Protocol{{Name: "ssh", Port: 22}, {Name: "sftp", Port: 22}}},
	{ID: 3, Name: "MySQL", Category: "database", Type: "mysql", Protocols: []store.Protocol{{Name: "mysql", Port: 3306}}},
	{ID: 4, Name: "Windows", Category: "host", Type: "windows", Protocols: []store.Protocol{{Name: "rdp", Port: 3389}, {Name: "ssh", Port: 22}}},
	{ID: 5, Name: "PostgreSQL", Category: "database", Type: "postgresql", Protocols: []store.Protocol{{Name: "postgresql", Port: 5432}}},
	{ID: 6, Name: "MariaDB", Category: "database", Type: "mariadb", Protocols: []store.Protocol{{Name: "mysql", Port: 3306}}},
	{ID: 7, Name: "Redis", Category: "database", Type: "redis", Protocols: []store.Protocol{{Name: "redis", Port: 6379}}},
	{ID: 8, Name: "Network device", Category: "device", Type: "network", Protocols: []store.Protocol{{Name: "ssh", Port: 22}, {Name: "telnet", Port: 23}}},
	{ID: 9, Name: "MacOS", Category: "host", Type: "macos", Protocols: []store.Protocol{{Name: "ssh", Port: 22}, {Name: "sftp", Port: 22}}},
	{ID: 10, Name: "Kubernetes", Category: "cloud", Type: "k8s", Protocols: []store.Protocol{{Name: "k8s", Port: 443}}},
}

// Protocols every part of Postern knows by name.
var knownProtocols = map[string]bool{
	"ssh": true, "sftp": true, "rdp": true, "vnc": true, "telnet": true, "mysql": true,
	"postgresql": true, "redis": true, "mongodb": true, "k8s": true, "http": true, "https": true,
}

// RootNodeID is the id of the asset tree's root; new assets land there.
const RootNodeID = "00000000-0000-4000-8000-000000000001"

// Bootstrap writes the built-in platforms and the root node, idempotently.
func (s *Service) Bootstrap(ctx context.Context) error {
	for i := range Builtin {
		p := Builtin[i]
		p.Builtin = true
		if err := s.db.UpsertPlatform(ctx, &p); err != nil {
			return err
		}
	}
	if _, err := s.db.Node(ctx, RootNodeID); errors.Is(err, store.ErrNotFound) {
		now := s.now()
		n := store.Node{ID: RootNodeID, Name: "Default", DateCreated: now, DateUpdated: now}
		err := s.db.Tx(ctx, func(tx *store.Tx) error { return tx.CreateNode(ctx, &n) })
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	} else if err != nil {
		return err
	}
	return nil
}

var newID = identity.NewID

func (s *Service) record(ctx context.Context, tx *store.Tx, a audit.Actor, c audit.Change) error {
	return audit.Record(ctx, tx, a, c, s.now())
}

// allRows is a list query without paging, for small reference tables.
var allRows = query.Query{}
