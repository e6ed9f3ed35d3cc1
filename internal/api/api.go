// Package api serves Postern's REST API under /api/v2/: JSON in and out,
// bearer-token authentication, role checks on every route, list envelopes
// with filters, rate limits, the operate log through the domain services,
// and an OpenAPI description generated from the same route table that
// serves the requests, so the two cannot drift apart.
//
// Handlers validate nothing themselves beyond decoding: the domain
// packages (identity, inventory, access) own the rules and return fault
// errors, which this package maps to statuses. The API never speaks SQL or
// SSH.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/postern/postern/internal/access"
	"github.com/postern/postern/internal/audit"
	"github.com/postern/postern/internal/cmdfilter"
	"github.com/postern/postern/internal/fault"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/inventory"
	"github.com/postern/postern/internal/query"
	"github.com/postern/postern/internal/store"
)

// Config holds the API's limits.
type Config struct {
	MaxBody        int64   // request body cap in bytes; default 32 MiB
	RatePerUser    float64 // sustained requests per second per principal; default 50
	BurstPerUser   int     // default 200
	RatePerIP      float64 // sustained requests per second per client address; default 100
	BurstPerIP     int     // default 400
	TrustProxy     bool    // take the client address from X-Forwarded-For
	Version        string
	Logger         *slog.Logger
	Sessions       SessionControl     // reaches live sessions on the gateways; nil: none
	RecordingsDir  string             // where session recordings are kept
	CommandFilters *cmdfilter.Service // command groups and filters; nil: not served
}

// SessionControl is how the API reaches live sessions held by gateways.
type SessionControl interface {
	// Terminate ends a live session and reports whether a gateway
	// confirmed it within timeout.
	Terminate(ctx context.Context, sessionID, by string, timeout time.Duration) bool
	// Watch joins a live session: its current screen (or, without a
	// terminal emulator, its recent output) first, then updates until the
	// session ends.
	Watch(sessionID string) (screen []byte, updates <-chan []byte, stop func(), ok bool)
}

func (c *Config) defaults() {
	if c.MaxBody <= 0 {
		c.MaxBody = 32 << 20
	}
	if c.RatePerUser <= 0 {
		c.RatePerUser = 50
	}
	if c.BurstPerUser <= 0 {
		c.BurstPerUser = 200
	}
	if c.RatePerIP <= 0 {
		c.RatePerIP = 100
	}
	if c.BurstPerIP <= 0 {
		c.BurstPerIP = 400
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Server is the HTTP API.
type Server struct {
	db        *store.DB
	identity  *identity.Service
	inventory *inventory.Service
	access    *access.Service
	cfg       Config
	mux       *http.ServeMux
	routes    []*Route
	limits    *limiter
	metrics   *metrics
	now       func() time.Time
}

// New builds the API server and its route table.
func New(db *store.DB, id *identity.Service, inv *inventory.Service, acc *access.Service, cfg Config) *Server {
	cfg.defaults()
	s := &Server{db: db, identity: id, inventory: inv, access: acc, cfg: cfg, mux: http.NewServeMux(), now: time.Now,
		limits: newLimiter(cfg), metrics: newMetrics()}
	s.register()
	return s
}

// Role bits a route admits.
type roles uint8

const (
	roleAdmin roles = 1 << iota
	roleAuditor
	roleUser
	anyone       = roleAdmin | roleAuditor | roleUser
	adminOnly    = roleAdmin
	auditReaders = roleAdmin | roleAuditor
)

func roleBit(role string) roles {
	switch role {
	case identity.RoleAdmin:
		return roleAdmin
	case identity.RoleAuditor:
		return roleAuditor
	case identity.RoleUser:
		return roleUser
	}
	return 0
}

// Route is one operation of the API. The same value serves requests and
// describes the operation in the OpenAPI document.
type Route struct {
	Method  string // GET, POST, PUT, PATCH, DELETE
	Path    string // e.g. /api/v2/assets/assets/{id}/ (trailing slash optional for clients)
	Tag     string // OpenAPI grouping, e.g. "assets"
	Summary string
	Public  bool          // no authentication
	Roles   roles         // who may call it when not Public
	Body    any           // request body example type (nil: none); a slice type means "one object or a list"
	Reply   any           // response type (nil: no body)
	List    *query.Schema // when set, the reply is a list envelope of Reply and these are the query parameters
	Status  int           // success status; default 200
	Handle  func(c *call) (any, error)
}

func (s *Server) add(r *Route) {
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	if r.List != nil && r.Reply != nil {
		// ?fields= names response keys, which are the reply's JSON
		// names, not the (fewer) filterable columns.
		if names := jsonNames(reflect.TypeOf(r.Reply)); len(names) > 0 {
			schema := *r.List
			schema.Output = names
			r.List = &schema
		}
	}
	s.routes = append(s.routes, r)
	pattern := r.Method + " " + strings.TrimSuffix(r.Path, "/")
	s.mux.Handle(pattern, s.wrap(r))
}

// jsonNames lists the JSON keys of a struct type, including those of
// embedded structs.
func jsonNames(t reflect.Type) []string {
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case f.Anonymous && name == "":
			out = append(out, jsonNames(f.Type)...)
		case name == "":
			out = append(out, f.Name)
		default:
			out = append(out, name)
		}
	}
	return out
}

// Routes returns the route table (for the OpenAPI document and tests).
func (s *Server) Routes() []*Route { return s.routes }

// ServeHTTP implements http.Handler. A trailing slash is optional on every
// API path, as JumpServer's clients send it both ways.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
		r2 := r.Clone(r.Context())
		r2.URL.Path = strings.TrimRight(p, "/")
		if r2.URL.Path == "" {
			r2.URL.Path = "/"
		}
		r = r2
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if _, pattern := s.mux.Handler(r); pattern == "" && (r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/")) {
		s.noRoute(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// noRoute answers an API path no route serves: 405 with Allow when the
// path exists for other methods, else 404, both in JSON.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := s.mux.Handler(probe); p != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, r, s.cfg.Logger, &fault.Error{Kind: fault.MethodNotAllowed, Code: "method_not_allowed", Row: -1,
			Detail: r.Method + " is not allowed here; allowed: " + strings.Join(allow, ", ")})
		return
	}
	writeError(w, r, s.cfg.Logger, &fault.Error{Kind: fault.NotFound, Code: "not_found", Row: -1, Detail: "no such API endpoint"})
}

// Handle mounts an extra handler (web console, metrics) beside the API.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// call is one request in flight.
type call struct {
	w     http.ResponseWriter
	r     *http.Request
	s     *Server
	user  store.User // zero for public routes
	route *Route
	ip    string
}

func (c *call) ctx() context.Context { return c.r.Context() }

func (c *call) actor() audit.Actor {
	return audit.Actor{UserID: c.user.ID, Username: c.user.Username, RemoteAddr: c.ip}
}

func (c *call) isAdmin() bool { return c.user.Role == identity.RoleAdmin }

// id returns the {id} path value.
func (c *call) id() string { return c.r.PathValue("id") }

// query parses the list query of the route's schema.
func (c *call) query() (query.Query, error) {
	return query.ParseRaw(c.route.List, c.r.URL.RawQuery)
}

// decode reads the JSON body into v, refusing unknown fields, trailing
// data and bodies over the cap.
func (c *call) decode(v any) error {
	if ct := c.r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return fault.InvalidField("", "send the body as application/json")
	}
	body := http.MaxBytesReader(c.w, c.r.Body, c.s.cfg.MaxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, c.s.cfg.MaxBody)
	}
	if dec.More() {
		return fault.InvalidField("", "unexpected data after the JSON body")
	}
	return nil
}

func (s *Server) wrap(r *Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		start := s.now()
		c := &call{w: w, r: req, s: s, route: r, ip: clientIP(req, s.cfg.TrustProxy)}
		status := s.serve(c)
		s.metrics.observe(r.Method+" "+r.Path, status, time.Since(start))
	})
}

// serve runs one call and returns the status it answered with.
func (s *Server) serve(c *call) int {
	if wait, ok := s.limits.allowIP(c.ip, s.now()); !ok {
		return tooMany(c, wait)
	}
	if !c.route.Public {
		u, err := s.authenticate(c.r)
		if err != nil {
			return writeError(c.w, c.r, s.cfg.Logger, err)
		}
		c.user = u
		if wait, ok := s.limits.allowUser(u.ID, s.now()); !ok {
			return tooMany(c, wait)
		}
		if c.route.Roles&roleBit(u.Role) == 0 {
			return writeError(c.w, c.r, s.cfg.Logger, fault.Errorf(fault.Forbidden, "", "your role may not do this"))
		}
	}
	out, err := c.route.Handle(c)
	if err != nil {
		return writeError(c.w, c.r, s.cfg.Logger, err)
	}
	if raw, ok := out.(rawReply); ok {
		raw(c.w)
		return http.StatusOK
	}
	if out == nil {
		c.w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent
	}
	out, err = project(out, c.r.URL.Query().Get("fields"))
	if err != nil {
		return writeError(c.w, c.r, s.cfg.Logger, err)
	}
	writeJSON(c.w, c.route.Status, out)
	return c.route.Status
}

// rawReply lets a handler write its own response (file downloads).
type rawReply func(w http.ResponseWriter)

func tooMany(c *call, wait time.Duration) int {
	secs := int(wait.Seconds() + 0.999)
	if secs < 1 {
		secs = 1
	}
	c.w.Header().Set("Retry-After", strconv.Itoa(secs))
	return writeError(c.w, c.r, c.s.cfg.Logger, &fault.Error{Kind: fault.Throttled, Code: "throttled", Row: -1, Detail: "too many requests; retry after " + strconv.Itoa(secs) + "s"})
}

func (s *Server) authenticate(r *http.Request) (store.User, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || (!strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "Token")) || tok == "" {
		return store.User{}, fault.Errorf(fault.Unauthorized, "", "authentication required: send Authorization: Bearer <token>")
	}
	u, _, err := s.identity.Authenticate(r.Context(), strings.TrimSpace(tok))
	return u, err
}

func clientIP(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if xf := r.Header.Get("X-Forwarded-For"); xf != "" {
			first, _, _ := strings.Cut(xf, ",")
			if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// errorBody is the JSON of every error response.
type errorBody struct {
	Code   string       `json:"code"`
	Detail string       `json:"detail"`
	Field  string       `json:"field,omitempty"`
	Row    *int         `json:"row,omitempty"`
	Errors []errorEntry `json:"errors,omitempty"`
}

type errorEntry struct {
	Row    *int   `json:"row,omitempty"`
	Field  string `json:"field,omitempty"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

func statusOf(k fault.Kind) int {
	switch k {
	case fault.Invalid:
		return http.StatusBadRequest
	case fault.NotFound:
		return http.StatusNotFound
	case fault.Conflict:
		return http.StatusConflict
	case fault.Forbidden, fault.Locked:
		return http.StatusForbidden
	case fault.Unauthorized:
		return http.StatusUnauthorized
	case fault.TooLarge:
		return http.StatusRequestEntityTooLarge
	case fault.MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case fault.Throttled:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

func rowPtr(r int) *int {
	if r < 0 {
		return nil
	}
	return &r
}

// writeError answers err as JSON. Unexpected errors are logged and shown
// only as "internal error": their text may name tables or paths.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) int {
	var body errorBody
	status := http.StatusInternalServerError
	var qe *query.Error
	var list fault.List
	switch {
	case errors.As(err, &list):
		status = statusOf(list[0].Kind)
		body = errorBody{Code: list[0].Code, Detail: strconv.Itoa(len(list)) + " rows have problems; see errors"}
		for _, e := range list {
			body.Errors = append(body.Errors, errorEntry{Row: rowPtr(e.Row), Field: e.Field, Code: e.Code, Detail: e.Detail})
		}
	case errors.As(err, &qe):
		status = http.StatusBadRequest
		body = errorBody{Code: "invalid_query", Detail: qe.Error(), Field: qe.Param}
	case fault.As(err) != nil:
		e := fault.As(err)
		status = statusOf(e.Kind)
		body = errorBody{Code: e.Code, Detail: e.Detail, Field: e.Field, Row: rowPtr(e.Row)}
		if e.Row >= 0 {
			body.Errors = []errorEntry{{Row: rowPtr(e.Row), Field: e.Field, Code: e.Code, Detail: e.Detail}}
		}
	default:
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		body = errorBody{Code: "internal_error", Detail: "internal error; the server log has the details"}
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="postern"`)
	}
	writeJSON(w, status, body)
	return status
}
