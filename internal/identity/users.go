package identity

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/postern/postern/internal/audit"
	"github.com/postern/postern/internal/fault"
	"github.com/postern/postern/internal/store"
)

// UserFields are the writable fields of a user; nil means "not given"
// (keep on update, default on create).
type UserFields struct {
	Username, Name, Email, Phone, Role, Comment, Password *string
	IsActive                                              *bool
	DateExpired                                           *time.Time // zero time clears
	Groups, PublicKeys                                    *[]string
}

// userView is what the operate log records of a user.
type userView struct {
	Username    string   `json:"username"`
	Name        string   `json:"name"`
	Email       string   `json:"email"`
	Phone       string   `json:"phone"`
	Role        string   `json:"role"`
	IsActive    bool     `json:"is_active"`
	DateExpired string   `json:"date_expired"`
	Comment     string   `json:"comment"`
	Groups      []string `json:"groups"`
	PublicKeys  []string `json:"public_keys"`
	Password    string   `json:"password" audit:"secret"`
	MFA         bool     `json:"mfa_enabled"`
}

func viewUser(u *store.User) userView {
	v := userView{Username: u.Username, Name: u.Name, Email: u.Email, Phone: u.Phone, Role: u.Role, IsActive: u.IsActive,
		Comment: u.Comment, Groups: u.Groups, Password: u.PasswordHash, MFA: u.OTPEnabled}
	if !u.DateExpired.IsZero() {
		v.DateExpired = store.Time(u.DateExpired)
	}
	for _, k := range u.PublicKeys {
		v.PublicKeys = append(v.PublicKeys, k.Fingerprint)
	}
	return v
}

// apply validates f and writes it onto u.
func (s *Service) apply(ctx context.Context, u *store.User, f UserFields, creating bool) error {
	if f.Username != nil {
		if err := ValidUsername(*f.Username); err != nil {
			return err
		}
		u.Username = *f.Username
	} else if creating {
		return fault.InvalidField("username", "is required")
	}
	if f.Name != nil {
		if err := fault.Text("name", *f.Name, 128, false); err != nil {
			return err
		}
		u.Name = *f.Name
	}
	if u.Name == "" {
		u.Name = u.Username
	}
	if f.Email != nil {
		if err := validEmail(*f.Email); err != nil {
			return err
		}
		u.Email = *f.Email
	}
	if f.Phone != nil {
		if err := fault.Text("phone", *f.Phone, 32, false); err != nil {
			return err
		}
		u.Phone = *f.Phone
	}
	if f.Comment != nil {
		if err := fault.Text("comment", *f.Comment, 1024, false); err != nil {
			return err
		}
		u.Comment = *f.Comment
	}
	if f.Role != nil {
		switch *f.Role {
		case RoleAdmin, RoleAuditor, RoleUser:
			u.Role = *f.Role
		default:
			return fault.InvalidField("role", "must be one of admin, auditor, user")
		}
	}
	if u.Role == "" {
		u.Role = RoleUser
	}
	if f.IsActive != nil {
		u.IsActive = *f.IsActive
	}
	if f.DateExpired != nil {
		u.DateExpired = *f.DateExpired
	}
	if f.Password != nil {
		if err := ValidPassword(*f.Password); err != nil {
			return err
		}
		h, err := HashPassword(*f.Password)
		if err != nil {
			return err
		}
		u.PasswordHash, u.PasswordSetAt = h, s.now()
	}
	if f.Groups != nil {
		groups := fault.Dedupe(*f.Groups)
		miss, err := s.db.Missing(ctx, "user_groups", groups)
		if err != nil {
			return err
		}
		if len(miss) > 0 {
			return fault.InvalidField("groups", "no user group with id %q", miss[0])
		}
		u.Groups = groups
	}
	if f.PublicKeys != nil {
		keys, err := ParsePublicKeys(*f.PublicKeys)
		if err != nil {
			return err
		}
		u.PublicKeys = keys
	}
	return nil
}

// ValidPassword enforces the minimum a bastion password must meet.
func ValidPassword(pw string) error {
	if utf8.RuneCountInString(pw) < 8 {
		return fault.InvalidField("password", "must be at least 8 characters")
	}
	if len(pw) > 1024 {
		return fault.InvalidField("password", "longer than 1024 bytes")
	}
	return nil
}

// CreateUser creates a user.
func (s *Service) CreateUser(ctx context.Context, a audit.Actor, f UserFields) (store.User, error) {
	now := s.now()
	u := store.User{ID: NewID(), IsActive: true, CreatedBy: a.Username, DateCreated: now, DateUpdated: now}
	if err := s.apply(ctx, &u, f, true); err != nil {
		return u, err
	}
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateUser(ctx, &u); err != nil {
			return fault.ConflictOr(err, "username", "a user named "+u.Username)
		}
		return s.record(ctx, tx, a, audit.Change{Action: audit.Create, Type: "user", ID: u.ID, Name: u.Username,
			After: viewUser(&u)})
	})
	if err != nil {
		return u, err
	}
	s.obs.UserGroupsChanged(u.ID, u.Groups)
	return s.db.User(ctx, u.ID)
}

// UpdateUser changes the given fields of a user. Changing the password or
// disabling the user revokes their API tokens.
func (s *Service) UpdateUser(ctx context.Context, a audit.Actor, id string, f UserFields) (store.User, error) {
	u, err := s.db.User(ctx, id)
	if err != nil {
		return u, fault.NotFoundOr(err, "user")
	}
	before := viewUser(&u)
	wasActive := u.IsActive
	if err := s.apply(ctx, &u, f, false); err != nil {
		return u, err
	}
	u.DateUpdated = s.now()
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.UpdateUser(ctx, &u); err != nil {
			return fault.ConflictOr(err, "username", "a user named "+u.Username)
		}
		if f.Password != nil || (wasActive && !u.IsActive) {
			if err := tx.DeleteUserTokens(ctx, u.ID); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, a, audit.Change{Action: audit.Update, Type: "user", ID: u.ID, Name: u.Username,
			Before: before, After: viewUser(&u)})
	})
	if err != nil {
		return u, err
	}
	if f.Groups != nil {
		s.obs.UserGroupsChanged(u.ID, u.Groups)
	}
	return s.db.User(ctx, u.ID)
}

// DeleteUser removes a user. The last active administrator cannot be
// deleted: that would lock everyone out of the API.
func (s *Service) DeleteUser(ctx context.Context, a audit.Actor, id string) error {
	u, err := s.db.User(ctx, id)
	if err != nil {
		return fault.NotFoundOr(err, "user")
	}
	if u.Role == RoleAdmin && u.IsActive {
		if err := s.keepAnAdmin(ctx, id); err != nil {
			return err
		}
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteUser(ctx, id); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.Change{Action: audit.Delete, Type: "user", ID: u.ID, Name: u.Username,
			Before: viewUser(&u)})
	})
	if err != nil {
		return err
	}
	s.obs.UserDeleted(id)
	return nil
}

func (s *Service) keepAnAdmin(ctx context.Context, leaving string) error {
	n, err := s.db.ActiveAdmins(ctx, leaving)
	if err != nil {
		return err
	}
	if n == 0 {
		return fault.Errorf(fault.Conflict, "", "this is the last active administrator")
	}
	return nil
}

// SetPassword sets a user's password (CLI and self-service) and revokes
// their tokens.
func (s *Service) SetPassword(ctx context.Context, a audit.Actor, id, password string) error {
	_, err := s.UpdateUser(ctx, a, id, UserFields{Password: &password})
	return err
}

// Unlock lifts a lockout.
func (s *Service) Unlock(ctx context.Context, a audit.Actor, id string) error {
	u, err := s.db.User(ctx, id)
	if err != nil {
		return fault.NotFoundOr(err, "user")
	}
	return s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Unlock(ctx, id); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.Change{Action: audit.Update, Type: "user", ID: u.ID, Name: u.Username,
			Before: map[string]any{"locked": true}, After: map[string]any{"locked": false}})
	})
}

// BeginOTP starts TOTP enrolment: it stores a new secret, not yet
// enforced, and returns it with its otpauth URI for the user's app.
func (s *Service) BeginOTP(ctx context.Context, u store.User) (secret, uri string, err error) {
	if u.OTPEnabled {
		return "", "", fault.Errorf(fault.Conflict, "", "MFA is already enabled; an administrator can reset it")
	}
	secret = NewTOTPSecret()
	sealed, err := s.vault.Seal(secret, "user:"+u.ID+":otp")
	if err != nil {
		return "", "", err
	}
	u.OTPSecret = sealed
	u.DateUpdated = s.now()
	if err := s.db.Tx(ctx, func(tx *store.Tx) error { return tx.UpdateUser(ctx, &u) }); err != nil {
		return "", "", err
	}
	return secret, TOTPURI(secret, s.cfg.Issuer, u.Username), nil
}

// ConfirmOTP enables TOTP once the user proves their app has the secret.
func (s *Service) ConfirmOTP(ctx context.Context, a audit.Actor, u store.User, code string) error {
	if u.OTPEnabled {
		return fault.Errorf(fault.Conflict, "", "MFA is already enabled")
	}
	if u.OTPSecret == "" {
		return fault.InvalidField("otp", "start enrolment first")
	}
	if err := s.checkOTP(ctx, &u, code, s.now()); err != nil {
		return fault.InvalidField("otp", "invalid one-time code")
	}
	before := viewUser(&u)
	u.OTPEnabled = true
	u.DateUpdated = s.now()
	return s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.UpdateUser(ctx, &u); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.Change{Action: audit.Update, Type: "user", ID: u.ID, Name: u.Username,
			Before: before, After: viewUser(&u)})
	})
}

// ResetOTP turns MFA off for a user (administrator action).
func (s *Service) ResetOTP(ctx context.Context, a audit.Actor, id string) error {
	u, err := s.db.User(ctx, id)
	if err != nil {
		return fault.NotFoundOr(err, "user")
	}
	before := viewUser(&u)
	u.OTPEnabled, u.OTPSecret, u.DateUpdated = false, "", s.now()
	return s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.UpdateUser(ctx, &u); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.Change{Action: audit.Update, Type: "user", ID: u.ID, Name: u.Username,
			Before: before, After: viewUser(&u)})
	})
}

// Bootstrap creates the first administrator when there are no users. It
// returns the password it set ("" when users already existed); when
// password is "", a random one is generated.
func (s *Service) Bootstrap(ctx context.Context, password string) (string, error) {
	n, err := s.db.UserCount(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	if password == "" {
		password = RandomPassword(20)
	}
	name, role := "admin", RoleAdmin
	fullName := "Administrator"
	_, err = s.CreateUser(ctx, audit.System, UserFields{Username: &name, Name: &fullName, Role: &role, Password: &password})
	if fault.As(err) != nil && fault.As(err).Kind == fault.Conflict {
		return "", nil // another replica bootstrapped first
	}
	if err != nil {
		return "", err
	}
	return password, nil
}
