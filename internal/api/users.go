package api

import (
	"net/http"
	"time"

	"github.com/postern/postern/internal/fault"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/store"
)

// UserOut is a user as the API shows it. It never carries a password hash,
// an OTP seed or lockout internals beyond whether the account is locked.
type UserOut struct {
	ID          string    `json:"id"`
	Username    string    `json:"username"`
	Name        string    `json:"name"`
	Email       string    `json:"email"`
	Phone       string    `json:"phone"`
	Role        string    `json:"role"`
	IsActive    bool      `json:"is_active"`
	IsLocked    bool      `json:"is_locked"`
	MFAEnabled  bool      `json:"mfa_enabled"`
	DateExpired *string   `json:"date_expired"`
	LastLogin   *string   `json:"last_login"`
	Groups      []NameRef `json:"groups"`
	PublicKeys  []string  `json:"public_keys"`
	Comment     string    `json:"comment"`
	CreatedBy   string    `json:"created_by"`
	DateCreated *string   `json:"date_created"`
	DateUpdated *string   `json:"date_updated"`
}

// NameRef is a reference in a response: the id and a readable name.
type NameRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// nameRefs pairs ids with their names from names (looked up once for a
// whole list); an empty list is [] in JSON, never null.
func nameRefs(ids []string, names map[string]string) []NameRef {
	out := make([]NameRef, 0, len(ids))
	for _, id := range ids {
		out = append(out, NameRef{ID: id, Name: names[id]})
	}
	return out
}

// UserIn is the body of user create and update requests.
type UserIn struct {
	Username    *string   `json:"username"`
	Name        *string   `json:"name"`
	Email       *string   `json:"email"`
	Phone       *string   `json:"phone"`
	Role        *string   `json:"role"`
	IsActive    *bool     `json:"is_active"`
	DateExpired Time      `json:"date_expired"`
	Password    *string   `json:"password"`
	Groups      *[]Ref    `json:"groups"`
	PublicKeys  *[]string `json:"public_keys"`
	Comment     *string   `json:"comment"`
}

func (in *UserIn) fields() identity.UserFields {
	return identity.UserFields{Username: in.Username, Name: in.Name, Email: in.Email, Phone: in.Phone, Role: in.Role,
		IsActive: in.IsActive, DateExpired: optTime(in.DateExpired), Password: in.Password, Groups: ids(in.Groups),
		PublicKeys: in.PublicKeys, Comment: in.Comment}
}

func (s *Server) userOut(c *call, users []store.User) ([]UserOut, error) {
	var gids []string
	for _, u := range users {
		gids = append(gids, u.Groups...)
	}
	names, err := s.db.GroupNames(c.ctx(), gids)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]UserOut, len(users))
	for i, u := range users {
		o := UserOut{ID: u.ID, Username: u.Username, Name: u.Name, Email: u.Email, Phone: u.Phone, Role: u.Role,
			IsActive: u.IsActive, IsLocked: !u.LockedUntil.IsZero() && now.Before(u.LockedUntil), MFAEnabled: u.OTPEnabled,
			DateExpired: outTime(u.DateExpired), LastLogin: outTime(u.LastLogin), Groups: nameRefs(u.Groups, names), PublicKeys: []string{},
			Comment: u.Comment, CreatedBy: u.CreatedBy, DateCreated: outTime(u.DateCreated), DateUpdated: outTime(u.DateUpdated)}
		for _, k := range u.PublicKeys {
			o.PublicKeys = append(o.PublicKeys, k.Line)
		}
		out[i] = o
	}
	return out, nil
}

func (s *Server) oneUser(c *call, u store.User, err error) (any, error) {
	if err != nil {
		return nil, fault.NotFoundOr(err, "user")
	}
	out, err := s.userOut(c, []store.User{u})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// GroupOut is a user group as the API shows it.
type GroupOut struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Comment     string    `json:"comment"`
	Users       []NameRef `json:"users"`
	UsersAmount int       `json:"users_amount"`
	CreatedBy   string    `json:"created_by"`
	DateCreated *string   `json:"date_created"`
}

// GroupIn is the body of group create and update requests.
type GroupIn struct {
	Name    *string `json:"name"`
	Comment *string `json:"comment"`
	Users   *[]Ref  `json:"users"`
}

func (s *Server) groupOut(c *call, gs []store.Group) ([]GroupOut, error) {
	var uids []string
	for _, g := range gs {
		uids = append(uids, g.Users...)
	}
	names, err := s.db.Usernames(c.ctx(), uids)
	if err != nil {
		return nil, err
	}
	out := make([]GroupOut, len(gs))
	for i, g := range gs {
		o := GroupOut{ID: g.ID, Name: g.Name, Comment: g.Comment, Users: nameRefs(g.Users, names), UsersAmount: len(g.Users),
			CreatedBy: g.CreatedBy, DateCreated: outTime(g.DateCreated)}
		out[i] = o
	}
	return out, nil
}

// TokenRequest is the body of POST /api/v2/authentication/token/.
type TokenRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	OTP      string `json:"otp,omitempty"`
	Name     string `json:"name,omitempty"`
}

// TokenReply answers a token request. The token is shown once.
type TokenReply struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"`
	ID        string `json:"id"`
}

// TokenOut is a token as listed: never its secret.
type TokenOut struct {
	ID          string  `json:"id"`
	User        string  `json:"user"`
	Name        string  `json:"name"`
	RemoteAddr  string  `json:"remote_addr"`
	DateCreated *string `json:"date_created"`
	ExpiresAt   *string `json:"expires_at"`
	LastUsed    *string `json:"last_used"`
}

func tokenOut(t store.Token) TokenOut {
	return TokenOut{ID: t.ID, User: t.UserID, Name: t.Name, RemoteAddr: t.RemoteAddr, DateCreated: outTime(t.DateCreated),
		ExpiresAt: outTime(t.ExpiresAt), LastUsed: outTime(t.LastUsed)}
}

// PasswordChange is the body of a self-service password change.
type PasswordChange struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

// OTPBegin answers the start of MFA enrolment.
type OTPBegin struct {
	Secret string `json:"secret"`
	URI    string `json:"otpauth_uri"`
}

// OTPConfirm is the body that completes MFA enrolment.
type OTPConfirm struct {
	OTP string `json:"otp"`
}

func (s *Server) registerIdentity() {
	s.add(&Route{Method: "POST", Path: "/api/v2/authentication/token/", Tag: "authentication", Public: true,
		Summary: "Exchange a username and password (and one-time code where MFA is on) for a bearer token",
		Body:    TokenRequest{}, Reply: TokenReply{}, Status: http.StatusCreated,
		Handle: func(c *call) (any, error) {
			var in TokenRequest
			if err := c.decode(&in); err != nil {
				return nil, err
			}
			if in.Username == "" || in.Password == "" {
				return nil, fault.InvalidField("", "username and password are required")
			}
			u, err := s.identity.Login(c.ctx(), identity.Attempt{Username: in.Username, Password: in.Password, OTP: in.OTP,
				IP: c.ip, UserAgent: c.r.UserAgent(), Type: "api"})
			if err != nil {
				return nil, err
			}
			secret, t, err := s.identity.IssueToken(c.ctx(), u, in.Name, c.ip, 0)
			if err != nil {
				return nil, err
			}
			return TokenReply{Token: secret, ExpiresAt: t.ExpiresAt.UTC().Format(time.RFC3339), ID: t.ID}, nil
		}})
	s.add(&Route{Method: "GET", Path: "/api/v2/authentication/tokens/", Tag: "authentication", Roles: anyone,
		Summary: "List API tokens: your own, or any user's (?user=ID) for an admin", Reply: TokenOut{}, List: store.TokenSchema,
		Handle: func(c *call) (any, error) {
			q, err := c.query()
			if err != nil {
				return nil, err
			}
			owner := c.user.ID
			if u := q.Extra.Get("user"); u != "" {
				if !c.isAdmin() && u != c.user.ID {
					return nil, fault.Errorf(fault.Forbidden, "user", "only an administrator may list another user's tokens")
				}
				owner = u
			} else if c.isAdmin() {
				owner = ""
			}
			ts, n, err := s.db.Tokens(c.ctx(), q, owner)
			if err != nil {
				return nil, err
			}
			out := make([]TokenOut, len(ts))
			for i, t := range ts {
				out[i] = tokenOut(t)
			}
			return c.page(q, n, out), nil
		}})
	s.add(&Route{Method: "DELETE", Path: "/api/v2/authentication/tokens/{id}/", Tag: "authentication", Roles: anyone,
		Summary: "Revoke a token (your own; an admin may revoke any)", Status: http.StatusNoContent,
		Handle: func(c *call) (any, error) {
			t, err := s.db.Token(c.ctx(), c.id())
			if err != nil || (!c.isAdmin() && t.UserID != c.user.ID) {
				return nil, fault.Errorf(fault.NotFound, "", "no such token")
			}
			return nil, s.identity.RevokeToken(c.ctx(), c.actor(), t)
		}})

	s.add(&Route{Method: "GET", Path: "/api/v2/users/profile/", Tag: "users", Roles: anyone,
		Summary: "Your own user record", Reply: UserOut{},
		Handle: func(c *call) (any, error) { return s.oneUser(c, c.user, nil) }})
	s.add(&Route{Method: "PATCH", Path: "/api/v2/users/profile/", Tag: "users", Roles: anyone,
		Summary: "Change your own name, email, phone or SSH public keys", Body: ProfileIn{}, Reply: UserOut{},
		Handle: func(c *call) (any, error) {
			var in ProfileIn
			if err := c.decode(&in); err != nil {
				return nil, err
			}
			u, err := s.identity.UpdateUser(c.ctx(), c.actor(), c.user.ID, identity.UserFields{Name: in.Name, Email: in.Email, Phone: in.Phone, PublicKeys: in.PublicKeys})
			return s.oneUser(c, u, err)
		}})
	s.add(&Route{Method: "POST", Path: "/api/v2/users/profile/password/", Tag: "users", Roles: anyone,
		Summary: "Change your own password (revokes your tokens)", Body: PasswordChange{}, Status: http.StatusNoContent,
		Handle: func(c *call) (any, error) {
			var in PasswordChange
			if err := c.decode(&in); err != nil {
				return nil, err
			}
			if !identity.CheckPassword(c.user.PasswordHash, in.OldPassword) {
				return nil, fault.InvalidField("old_password", "is wrong")
			}
			return nil, s.identity.SetPassword(c.ctx(), c.actor(), c.user.ID, in.NewPassword)
		}})
	s.add(&Route{Method: "POST", Path: "/api/v2/users/profile/mfa/", Tag: "users", Roles: anyone,
		Summary: "Start TOTP enrolment: returns a secret and otpauth URI for an authenticator app", Reply: OTPBegin{},
		Handle: func(c *call) (any, error) {
			secret, uri, err := s.identity.BeginOTP(c.ctx(), c.user)
			return OTPBegin{Secret: secret, URI: uri}, err
		}})
	s.add(&Route{Method: "POST", Path: "/api/v2/users/profile/mfa/confirm/", Tag: "users", Roles: anyone,
		Summary: "Finish TOTP enrolment with a current code; from then on logins need \"otp\"", Body: OTPConfirm{}, Status: http.StatusNoContent,
		Handle: func(c *call) (any, error) {
			var in OTPConfirm
			if err := c.decode(&in); err != nil {
				return nil, err
			}
			return nil, s.identity.ConfirmOTP(c.ctx(), c.actor(), c.user, in.OTP)
		}})

	s.add(&Route{Method: "GET", Path: "/api/v2/users/users/", Tag: "users", Roles: adminOnly,
		Summary: "List users", Reply: UserOut{}, List: store.UserSchema,
		Handle: func(c *call) (any, error) {
			q, err := c.query()
			if err != nil {
				return nil, err
			}
			us, n, err := s.db.Users(c.ctx(), q, q.Extra.Get("group"))
			if err != nil {
				return nil, err
			}
			out, err := s.userOut(c, us)
			return c.page(q, n, out), err
		}})
	s.add(&Route{Method: "POST", Path: "/api/v2/users/users/", Tag: "users", Roles: adminOnly,
		Summary: "Create a user", Body: UserIn{}, Reply: UserOut{}, Status: http.StatusCreated,
		Handle: func(c *call) (any, error) {
			var in UserIn
			if err := c.decode(&in); err != nil {
				return nil, err
			}
			u, err := s.identity.CreateUser(c.ctx(), c.actor(), in.fields())
			if err != nil {
				return nil, err
			}
			return s.oneUser(c, u, nil)
		}})
	s.add(&Route{Method: "GET", Path: "/api/v2/users/users/{id}/", Tag: "users", Roles: adminOnly,
		Summary: "Read a user", Reply: UserOut{},
		Handle: func(c *call) (any, error) {
			u, err := s.db.User(c.ctx(), c.id())
			return s.oneUser(c, u, err)
		}})
	for _, m := range []string{"PUT", "PATCH"} {
		s.add(&Route{Method: m, Path: "/api/v2/users/users/{id}/", Tag: "users", Roles: adminOnly,
			Summary: "Change a user (fields not given are kept)", Body: UserIn{}, Reply: UserOut{},
			Handle: func(c *call) (any, error) {
				var in UserIn
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				u, err := s.identity.UpdateUser(c.ctx(), c.actor(), c.id(), in.fields())
				if err != nil {
					return nil, err
				}
				return s.oneUser(c, u, nil)
			}})
	}
	s.add(&Route{Method: "DELETE", Path: "/api/v2/users/users/{id}/", Tag: "users", Roles: adminOnly,
		Summary: "Delete a user", Status: http.StatusNoContent,
		Handle: func(c *call) (any, error) {
			if c.id() == c.user.ID {
				return nil, fault.Errorf(fault.Conflict, "", "you cannot delete yourself")
			}
			return nil, s.identity.DeleteUser(c.ctx(), c.actor(), c.id())
		}})
	s.add(&Route{Method: "POST", Path: "/api/v2/users/users/{id}/unlock/", Tag: "users", Roles: adminOnly,
		Summary: "Lift a lockout after repeated failed logins", Status: http.StatusNoContent,
		Handle: func(c *call) (any, error) { return nil, s.identity.Unlock(c.ctx(), c.actor(), c.id()) }})
	s.add(&Route{Method: "POST", Path: "/api/v2/users/users/{id}/mfa/reset/", Tag: "users", Roles: adminOnly,
		Summary: "Turn a user's MFA off so they can enrol again", Status: http.StatusNoContent,
		Handle: func(c *call) (any, error) { return nil, s.identity.ResetOTP(c.ctx(), c.actor(), c.id()) }})

	s.add(&Route{Method: "GET", Path: "/api/v2/users/groups/", Tag: "users", Roles: adminOnly,
		Summary: "List user groups", Reply: GroupOut{}, List: store.GroupSchema,
		Handle: func(c *call) (any, error) {
			q, err := c.query()
			if err != nil {
				return nil, err
			}
			gs, n, err := s.db.Groups(c.ctx(), q)
			if err != nil {
				return nil, err
			}
			out, err := s.groupOut(c, gs)
			return c.page(q, n, out), err
		}})
	oneGroup := func(c *call, g store.Group, err error) (any, error) {
		if err != nil {
			return nil, fault.NotFoundOr(err, "user group")
		}
		out, err := s.groupOut(c, []store.Group{g})
		if err != nil {
			return nil, err
		}
		return out[0], nil
	}
	s.add(&Route{Method: "POST", Path: "/api/v2/users/groups/", Tag: "users", Roles: adminOnly,
		Summary: "Create a user group", Body: GroupIn{}, Reply: GroupOut{}, Status: http.StatusCreated,
		Handle: func(c *call) (any, error) {
			var in GroupIn
			if err := c.decode(&in); err != nil {
				return nil, err
			}
			g, err := s.identity.CreateGroup(c.ctx(), c.actor(), identity.GroupFields{Name: in.Name, Comment: in.Comment, Users: ids(in.Users)})
			if err != nil {
				return nil, err
			}
			return oneGroup(c, g, nil)
		}})
	s.add(&Route{Method: "GET", Path: "/api/v2/users/groups/{id}/", Tag: "users", Roles: adminOnly,
		Summary: "Read a user group", Reply: GroupOut{},
		Handle: func(c *call) (any, error) {
			g, err := s.db.Group(c.ctx(), c.id())
			return oneGroup(c, g, err)
		}})
	for _, m := range []string{"PUT", "PATCH"} {
		s.add(&Route{Method: m, Path: "/api/v2/users/groups/{id}/", Tag: "users", Roles: adminOnly,
			Summary: "Change a user group", Body: GroupIn{}, Reply: GroupOut{},
			Handle: func(c *call) (any, error) {
				var in GroupIn
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				g, err := s.identity.UpdateGroup(c.ctx(), c.actor(), c.id(), identity.GroupFields{Name: in.Name, Comment: in.Comment, Users: ids(in.Users)})
				if err != nil {
					return nil, err
				}
				return oneGroup(c, g, nil)
			}})
	}
	s.add(&Route{Method: "DELETE", Path: "/api/v2/users/groups/{id}/", Tag: "users", Roles: adminOnly,
		Summary: "Delete a user group", Status: http.StatusNoContent,
		Handle: func(c *call) (any, error) { return nil, s.identity.DeleteGroup(c.ctx(), c.actor(), c.id()) }})
}

// ProfileIn is what a user may change about themselves.
type ProfileIn struct {
	Name       *string   `json:"name"`
	Email      *string   `json:"email"`
	Phone      *string   `json:"phone"`
	PublicKeys *[]string `json:"public_keys"`
}
