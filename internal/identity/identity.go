// Package identity knows the people who use Postern: users and their
// groups, how they prove who they are (password, SSH public key, TOTP
// second factor, API token), and when they may not (disabled, expired,
// locked after repeated failures). Every login attempt, good or bad, is
// written to the login log with where it came from and why it failed.
//
// It does not decide what a user may reach; that is the access package.
package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/postern/postern/internal/audit"
	"github.com/postern/postern/internal/fault"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/vault"
)

// Roles a user may have.
const (
	RoleAdmin   = "admin"
	RoleAuditor = "auditor"
	RoleUser    = "user"
)

// Config holds the policy knobs of identity.
type Config struct {
	TokenTTL     time.Duration // API token lifetime; default 30 days
	LockAttempts int           // failures that lock an account; default 7
	LockWindow   time.Duration // window the failures are counted in, and lock length; default 30 min
	Issuer       string        // shown in authenticator apps; default "Postern"
}

func (c *Config) defaults() {
	if c.TokenTTL <= 0 {
		c.TokenTTL = 30 * 24 * time.Hour
	}
	if c.LockAttempts <= 0 {
		c.LockAttempts = 7
	}
	if c.LockWindow <= 0 {
		c.LockWindow = 30 * time.Minute
	}
	if c.Issuer == "" {
		c.Issuer = "Postern"
	}
}

// Observer is told of membership changes so the permission engine can
// follow them at once.
type Observer interface {
	UserGroupsChanged(userID string, groups []string)
	UserDeleted(userID string)
	GroupDeleted(groupID string)
}

// Service is the identity service.
type Service struct {
	db    *store.DB
	vault *vault.Vault
	cfg   Config
	obs   Observer
	now   func() time.Time
}

// New returns an identity service.
func New(db *store.DB, v *vault.Vault, cfg Config, obs Observer) *Service {
	cfg.defaults()
	return &Service{db: db, vault: v, cfg: cfg, obs: obs, now: time.Now}
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

// Errors of authentication. Their text is what the caller is shown, so
// it does not say whether the username exists.
var (
	ErrBadCredentials = fault.Errorf(fault.Unauthorized, "", "invalid username or password")
	ErrOTPRequired    = &fault.Error{Kind: fault.Unauthorized, Code: "mfa_required", Row: -1, Detail: "a one-time code is required: send it as \"otp\""}
	ErrBadOTP         = &fault.Error{Kind: fault.Unauthorized, Code: "mfa_invalid", Row: -1, Detail: "invalid one-time code"}
	ErrLocked         = &fault.Error{Kind: fault.Locked, Code: "account_locked", Row: -1, Detail: "account locked after repeated failed logins; try again later or ask an administrator to unlock it"}
	ErrBadToken       = fault.Errorf(fault.Unauthorized, "", "invalid or expired token")
)

// Attempt is one login attempt.
type Attempt struct {
	Username, Password, OTP string
	PublicKey               ssh.PublicKey // instead of Password, for SSH key logins
	IP, UserAgent           string
	Type                    string // "api", "ssh", "web"
}

// Login checks an attempt and returns the user on success. Every attempt
// is logged; failures count towards the lockout.
func (s *Service) Login(ctx context.Context, a Attempt) (store.User, error) {
	now := s.now()
	method := "password"
	if a.PublicKey != nil {
		method = "publickey"
	}
	log := store.LoginLog{Username: a.Username, Type: a.Type, Method: method, IP: a.IP, UserAgent: a.UserAgent, Datetime: now}
	fail := func(u *store.User, reason string, err error, count bool) (store.User, error) {
		log.Reason = reason
		if u != nil {
			log.UserID = u.ID
			if count {
				locked, lerr := s.db.LoginFailed(ctx, u.ID, now, s.cfg.LockWindow, s.cfg.LockAttempts)
				if lerr != nil {
					return store.User{}, lerr
				}
				if locked {
					log.Reason += "; account locked"
				}
			}
		}
		if lerr := s.db.AddLoginLog(ctx, &log); lerr != nil {
			return store.User{}, lerr
		}
		return store.User{}, err
	}
	u, err := s.db.UserByUsername(ctx, a.Username)
	if errors.Is(err, store.ErrNotFound) {
		CheckPassword(dummyHash, a.Password) // same cost as a real check
		return fail(nil, "no such user", ErrBadCredentials, false)
	}
	if err != nil {
		return store.User{}, err
	}
	if !u.LockedUntil.IsZero() && now.Before(u.LockedUntil) {
		return fail(&u, "account locked", ErrLocked, false)
	}
	if a.PublicKey != nil {
		has, err := s.db.UserHasKey(ctx, u.ID, ssh.FingerprintSHA256(a.PublicKey))
		if err != nil {
			return store.User{}, err
		}
		if !has {
			return fail(&u, "public key not registered", ErrBadCredentials, true)
		}
	} else if !CheckPassword(u.PasswordHash, a.Password) {
		return fail(&u, "wrong password", ErrBadCredentials, true)
	}
	if !u.IsActive {
		return fail(&u, "user disabled", ErrBadCredentials, false)
	}
	if !u.DateExpired.IsZero() && !now.Before(u.DateExpired) {
		return fail(&u, "user expired", ErrBadCredentials, false)
	}
	if u.OTPEnabled && a.Type == "ssh" {
		// SSH asks for the code as a separate keyboard-interactive step
		// after the password; the login is logged and counted by
		// CheckOTP. A key login cannot ask, so MFA users use passwords.
		if a.PublicKey != nil {
			return fail(&u, "public-key login refused: this user has MFA, log in with password and code", ErrOTPRequired, false)
		}
		return u, nil
	}
	if u.OTPEnabled {
		if a.OTP == "" {
			return fail(&u, "one-time code missing", ErrOTPRequired, false)
		}
		if err := s.checkOTP(ctx, &u, a.OTP, now); err != nil {
			return fail(&u, "wrong one-time code", err, true)
		}
		log.MFA = true
	}
	if err := s.db.LoginSucceeded(ctx, u.ID, now); err != nil {
		return store.User{}, err
	}
	log.UserID, log.Status = u.ID, true
	if err := s.db.AddLoginLog(ctx, &log); err != nil {
		return store.User{}, err
	}
	return u, nil
}

// checkOTP verifies a one-time code and spends it, so that a code seen
// over someone's shoulder cannot be replayed within its validity.
func (s *Service) checkOTP(ctx context.Context, u *store.User, code string, now time.Time) error {
	secret, err := s.vault.Open(u.OTPSecret, "user:"+u.ID+":otp")
	if err != nil {
		return err
	}
	step, ok := VerifyTOTP(secret, code, now)
	if !ok {
		return ErrBadOTP
	}
	fresh, err := s.db.UseOTPStep(ctx, u.ID, step)
	if err != nil {
		return err
	}
	if !fresh {
		return ErrBadOTP
	}
	return nil
}

// CheckOTP verifies the second factor of an SSH login for a user whose
// password Login accepted (Login returns such users without logging them
// in). It logs the login, and a wrong code counts towards the lockout.
func (s *Service) CheckOTP(ctx context.Context, u store.User, code, ip string) error {
	now := s.now()
	err := s.checkOTP(ctx, &u, code, now)
	log := store.LoginLog{Username: u.Username, UserID: u.ID, Type: "ssh", Method: "password+otp", IP: ip, MFA: true, Status: err == nil, Datetime: now}
	if err != nil {
		log.Reason = "wrong one-time code"
		if _, lerr := s.db.LoginFailed(ctx, u.ID, now, s.cfg.LockWindow, s.cfg.LockAttempts); lerr != nil {
			return lerr
		}
	} else if lerr := s.db.LoginSucceeded(ctx, u.ID, now); lerr != nil {
		return lerr
	}
	if lerr := s.db.AddLoginLog(ctx, &log); lerr != nil {
		return lerr
	}
	return err
}

// LogFailure records a failed login that Login did not see, such as an
// SSH client whose offered keys were all unknown. It does not count
// towards the lockout: clients offer every key they hold.
func (s *Service) LogFailure(ctx context.Context, username, typ, method, ip, reason string) {
	l := store.LoginLog{Username: username, Type: typ, Method: method, IP: ip, Reason: reason, Datetime: s.now()}
	if u, err := s.db.UserByUsername(ctx, username); err == nil {
		l.UserID = u.ID
	}
	_ = s.db.AddLoginLog(ctx, &l)
}

// Usable reports why a known user may not act now ("" when they may):
// disabled, expired or locked. Token and session checks use it so that
// disabling a user cuts off what they already hold.
func Usable(u *store.User, now time.Time) string {
	switch {
	case !u.IsActive:
		return "user disabled"
	case !u.DateExpired.IsZero() && !now.Before(u.DateExpired):
		return "user expired"
	case !u.LockedUntil.IsZero() && now.Before(u.LockedUntil):
		return "account locked"
	}
	return ""
}

const tokenPrefix = "pst_"

func digest(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// IssueToken creates an API token for u and returns its secret, shown once.
func (s *Service) IssueToken(ctx context.Context, u store.User, name, ip string, ttl time.Duration) (string, store.Token, error) {
	if ttl <= 0 {
		ttl = s.cfg.TokenTTL
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", store.Token{}, err
	}
	secret := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	t := store.Token{ID: NewID(), UserID: u.ID, Digest: digest(secret), Name: name, RemoteAddr: ip,
		DateCreated: now, ExpiresAt: now.Add(ttl).Truncate(time.Second)}
	if err := s.db.CreateToken(ctx, &t); err != nil {
		return "", store.Token{}, err
	}
	return secret, t, nil
}

// Authenticate resolves a bearer token to its user, refusing expired
// tokens and users who are disabled, expired or locked.
func (s *Service) Authenticate(ctx context.Context, secret string) (store.User, store.Token, error) {
	if !strings.HasPrefix(secret, tokenPrefix) || len(secret) > 128 {
		return store.User{}, store.Token{}, ErrBadToken
	}
	t, err := s.db.TokenByDigest(ctx, digest(secret))
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, store.Token{}, ErrBadToken
	}
	if err != nil {
		return store.User{}, store.Token{}, err
	}
	now := s.now()
	if !now.Before(t.ExpiresAt) {
		return store.User{}, store.Token{}, ErrBadToken
	}
	u, err := s.db.User(ctx, t.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, store.Token{}, ErrBadToken
	}
	if err != nil {
		return store.User{}, store.Token{}, err
	}
	if Usable(&u, now) != "" {
		return store.User{}, store.Token{}, ErrBadToken
	}
	if err := s.db.TouchToken(ctx, t.ID, now); err != nil {
		return store.User{}, store.Token{}, err
	}
	return u, t, nil
}

// RevokeToken deletes an API token and records who revoked it.
func (s *Service) RevokeToken(ctx context.Context, a audit.Actor, t store.Token) error {
	return s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteToken(ctx, t.ID); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.Change{Action: audit.Delete, Type: "token", ID: t.ID, Name: t.Name,
			Before: map[string]any{"user": t.UserID, "name": t.Name, "expires_at": store.Time(t.ExpiresAt)}})
	})
}

// NewID returns a random UUID (version 4) as text.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

var usernameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidUsername reports a problem with a username, or nil. Usernames may
// not contain '@' or '#': SSH login names use them as separators.
func ValidUsername(name string) error {
	if !usernameRE.MatchString(name) {
		return fault.InvalidField("username", "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	return nil
}

// ParsePublicKeys validates authorized_keys lines and returns them with
// fingerprints, normalised to "type base64 comment".
func ParsePublicKeys(lines []string) ([]store.PublicKey, error) {
	var out []store.PublicKey
	seen := make(map[string]bool)
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		pk, comment, options, _, err := ssh.ParseAuthorizedKey([]byte(l))
		if err != nil {
			return nil, fault.InvalidField(fmt.Sprintf("public_keys[%d]", i), "not an OpenSSH public key line")
		}
		if len(options) > 0 {
			return nil, fault.InvalidField(fmt.Sprintf("public_keys[%d]", i), "key options are not supported")
		}
		fp := ssh.FingerprintSHA256(pk)
		if seen[fp] {
			continue
		}
		seen[fp] = true
		norm := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
		if comment != "" {
			norm += " " + comment
		}
		out = append(out, store.PublicKey{Fingerprint: fp, Line: norm})
	}
	return out, nil
}

// validEmail accepts "" or a single plain address.
func validEmail(e string) error {
	if e == "" {
		return nil
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e {
		return fault.InvalidField("email", "not a valid email address")
	}
	return nil
}

// record writes an operate log row; a thin wrapper so call sites stay short.
func (s *Service) record(ctx context.Context, tx *store.Tx, a audit.Actor, c audit.Change) error {
	return audit.Record(ctx, tx, a, c, s.now())
}
