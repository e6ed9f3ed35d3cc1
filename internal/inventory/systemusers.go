package inventory

import (
	"context"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/postern/postern/internal/audit"
	"github.com/postern/postern/internal/fault"
	"github.com/postern/postern/internal/store"
)

// SystemUserFields are the writable fields of a system user; nil means
// "not given". An empty Password or PrivateKey clears that secret.
type SystemUserFields struct {
	Name, Username, Protocol, Comment *string
	Password, PrivateKey              *string
}

type systemUserView struct {
	Name       string `json:"name"`
	Username   string `json:"username"`
	Protocol   string `json:"protocol"`
	Comment    string `json:"comment"`
	Password   string `json:"password" audit:"secret"`
	PrivateKey string `json:"private_key" audit:"secret"`
}

func viewSystemUser(su *store.SystemUser) systemUserView {
	return systemUserView{su.Name, su.Username, su.Protocol, su.Comment, su.Password, su.PrivateKey}
}

// Secret contexts bind a sealed value to its row and field.
func passwordContext(id string) string { return "system_user:" + id + ":password" }
func keyContext(id string) string      { return "system_user:" + id + ":private_key" }

func (s *Service) applySystemUser(su *store.SystemUser, f SystemUserFields, creating bool) error {
	if f.Name != nil {
		if err := fault.Text("name", *f.Name, 128, true); err != nil {
			return err
		}
		su.Name = *f.Name
	} else if creating {
		return fault.InvalidField("name", "is required")
	}
	if f.Username != nil {
		u := *f.Username
		if u == "" || len(u) > 64 || strings.ContainsAny(u, " \t\r\n\x00:@#/") {
			return fault.InvalidField("username", "must be 1-64 characters without spaces, ':', '@', '#' or '/'")
		}
		su.Username = u
	} else if creating {
		return fault.InvalidField("username", "is required")
	}
	if f.Protocol != nil {
		if !knownProtocols[*f.Protocol] {
			return fault.InvalidField("protocol", "unknown protocol %q", *f.Protocol)
		}
		su.Protocol = *f.Protocol
	} else if creating {
		su.Protocol = "ssh"
	}
	if f.Comment != nil {
		if err := fault.Text("comment", *f.Comment, 1024, false); err != nil {
			return err
		}
		su.Comment = *f.Comment
	}
	if f.Password != nil {
		if len(*f.Password) > 4096 {
			return fault.InvalidField("password", "longer than 4096 bytes")
		}
		sealed, err := s.vault.Seal(*f.Password, passwordContext(su.ID))
		if err != nil {
			return err
		}
		su.Password = sealed
	}
	if f.PrivateKey != nil {
		if *f.PrivateKey != "" {
			if len(*f.PrivateKey) > 64<<10 {
				return fault.InvalidField("private_key", "larger than 64 KiB")
			}
			if _, err := ssh.ParseRawPrivateKey([]byte(*f.PrivateKey)); err != nil {
				// Never echo the key or the parser's message, which may quote it.
				return fault.InvalidField("private_key", "not an unencrypted PEM or OpenSSH private key")
			}
		}
		sealed, err := s.vault.Seal(*f.PrivateKey, keyContext(su.ID))
		if err != nil {
			return err
		}
		su.PrivateKey = sealed
	}
	return nil
}

// CreateSystemUser creates a system user, sealing its secrets.
func (s *Service) CreateSystemUser(ctx context.Context, a audit.Actor, f SystemUserFields) (store.SystemUser, error) {
	now := s.now()
	su := store.SystemUser{ID: newID(), CreatedBy: a.Username, DateCreated: now, DateUpdated: now}
	if err := s.applySystemUser(&su, f, true); err != nil {
		return su, err
	}
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateSystemUser(ctx, &su); err != nil {
			return fault.ConflictOr(err, "name", "a system user named "+su.Name)
		}
		return s.record(ctx, tx, a, audit.Change{Action: audit.Create, Type: "system_user", ID: su.ID, Name: su.Name,
			After: viewSystemUser(&su)})
	})
	return su, err
}

// UpdateSystemUser changes the given fields of a system user.
func (s *Service) UpdateSystemUser(ctx context.Context, a audit.Actor, id string, f SystemUserFields) (store.SystemUser, error) {
	su, err := s.db.SystemUser(ctx, id)
	if err != nil {
		return su, fault.NotFoundOr(err, "system user")
	}
	before := viewSystemUser(&su)
	if err := s.applySystemUser(&su, f, false); err != nil {
		return su, err
	}
	su.DateUpdated = s.now()
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.UpdateSystemUser(ctx, &su); err != nil {
			return fault.ConflictOr(err, "name", "a system user named "+su.Name)
		}
		return s.record(ctx, tx, a, audit.Change{Action: audit.Update, Type: "system_user", ID: su.ID, Name: su.Name,
			Before: before, After: viewSystemUser(&su)})
	})
	return su, err
}

// DeleteSystemUser removes a system user and its grants.
func (s *Service) DeleteSystemUser(ctx context.Context, a audit.Actor, id string) error {
	su, err := s.db.SystemUser(ctx, id)
	if err != nil {
		return fault.NotFoundOr(err, "system user")
	}
	perms, err := s.db.PermissionsOf(ctx, store.KindSystemUsers, id)
	if err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteSystemUser(ctx, id); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.Change{Action: audit.Delete, Type: "system_user", ID: su.ID, Name: su.Name,
			Before: viewSystemUser(&su)})
	})
	if err != nil {
		return err
	}
	s.obs.SystemUserDeleted(ctx, perms)
	return nil
}

// Credential is an opened system user secret, handed only to the gateway
// for an authorized connection and never kept.
type Credential struct {
	Username, Password, PrivateKey string
}

// OpenCredential unseals a system user's secrets.
func (s *Service) OpenCredential(ctx context.Context, id string) (Credential, error) {
	su, err := s.db.SystemUser(ctx, id)
	if err != nil {
		return Credential{}, fault.NotFoundOr(err, "system user")
	}
	pw, err := s.vault.Open(su.Password, passwordContext(su.ID))
	if err != nil {
		return Credential{}, err
	}
	key, err := s.vault.Open(su.PrivateKey, keyContext(su.ID))
	if err != nil {
		return Credential{}, err
	}
	return Credential{Username: su.Username, Password: pw, PrivateKey: key}, nil
}
