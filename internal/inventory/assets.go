package inventory

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/postern/postern/internal/audit"
	"github.com/postern/postern/internal/fault"
	"github.com/postern/postern/internal/store"
)

// AssetFields are the writable fields of an asset; nil means "not given".
type AssetFields struct {
	Name, IP, Comment *string
	Platform          *string // platform id as text
	Protocols         *[]store.Protocol
	Nodes             *[]string
	Labels            *map[string]string
	IsActive          *bool
}

type assetView struct {
	Name      string            `json:"name"`
	IP        string            `json:"ip"`
	Platform  int64             `json:"platform"`
	Protocols []store.Protocol  `json:"protocols"`
	Nodes     []string          `json:"nodes"`
	Labels    map[string]string `json:"labels"`
	IsActive  bool              `json:"is_active"`
	Comment   string            `json:"comment"`
}

func viewAsset(a *store.Asset) assetView {
	return assetView{a.Name, a.IP, a.PlatformID, a.Protocols, a.Nodes, a.Labels, a.IsActive, a.Comment}
}

var hostnameRE = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$`)

// ValidHost reports a problem with an asset address: an IPv4 or IPv6
// address, or a DNS name.
func ValidHost(h string) error {
	if h == "" {
		return fault.InvalidField("ip", "is required")
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return nil
	}
	if len(h) > 253 || !hostnameRE.MatchString(h) || looksNumeric(h) {
		return fault.InvalidField("ip", "%q is not an IP address or host name", h)
	}
	return nil
}

// looksNumeric catches malformed dotted quads such as 10.0.0.300, which
// the host-name pattern would otherwise accept.
func looksNumeric(h string) bool {
	for _, part := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if _, err := strconv.Atoi(part); err != nil {
			return false
		}
	}
	return true
}

// assetRefs caches what a batch's validation looks up, so a 10,000-row
// import asks the database once per kind instead of once per row.
type assetRefs struct {
	platforms map[int64]store.Platform
	nodes     map[string]bool
}

func (s *Service) refs(ctx context.Context, rows []AssetFields) (*assetRefs, error) {
	r := &assetRefs{platforms: make(map[int64]store.Platform), nodes: make(map[string]bool)}
	ps, _, err := s.db.Platforms(ctx, allRows)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		r.platforms[p.ID] = p
	}
	var ids []string
	for _, f := range rows {
		if f.Nodes != nil {
			ids = append(ids, *f.Nodes...)
		}
	}
	ids = fault.Dedupe(ids)
	miss, err := s.db.Missing(ctx, "nodes", ids)
	if err != nil {
		return nil, err
	}
	gone := make(map[string]bool, len(miss))
	for _, m := range miss {
		gone[m] = true
	}
	for _, id := range ids {
		r.nodes[id] = !gone[id]
	}
	return r, nil
}

func (s *Service) applyAsset(a *store.Asset, f AssetFields, r *assetRefs, creating bool) error {
	if f.Name != nil {
		if err := fault.Text("name", *f.Name, 128, true); err != nil {
			return err
		}
		a.Name = strings.TrimSpace(*f.Name)
	} else if creating {
		return fault.InvalidField("name", "is required")
	}
	if f.IP != nil {
		if err := ValidHost(*f.IP); err != nil {
			return err
		}
		a.IP = *f.IP
	} else if creating {
		return fault.InvalidField("ip", "is required")
	}
	platformChanged := false
	if f.Platform != nil {
		id, err := strconv.ParseInt(*f.Platform, 10, 64)
		if _, ok := r.platforms[id]; err != nil || !ok {
			return fault.InvalidField("platform", "no platform with id %q", *f.Platform)
		}
		platformChanged = a.PlatformID != id
		a.PlatformID = id
	} else if creating {
		a.PlatformID = 2 // Linux: the common case of a bastion
		platformChanged = true
	}
	if f.Protocols != nil {
		if err := validProtocols(*f.Protocols); err != nil {
			return err
		}
		a.Protocols = *f.Protocols
	} else if platformChanged && creating {
		a.Protocols = r.platforms[a.PlatformID].Protocols
	}
	if f.Nodes != nil {
		nodes := fault.Dedupe(*f.Nodes)
		for _, n := range nodes {
			if !r.nodes[n] {
				return fault.InvalidField("nodes", "no node with id %q", n)
			}
		}
		a.Nodes = nodes
	}
	if len(a.Nodes) == 0 {
		a.Nodes = []string{RootNodeID}
	}
	if f.Labels != nil {
		if len(*f.Labels) > 64 {
			return fault.InvalidField("labels", "at most 64 labels")
		}
		for k, v := range *f.Labels {
			if err := fault.Text("labels", k, 64, true); err != nil {
				return err
			}
			if err := fault.Text("labels", v, 256, false); err != nil {
				return err
			}
		}
		a.Labels = *f.Labels
	}
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	if f.IsActive != nil {
		a.IsActive = *f.IsActive
	}
	if f.Comment != nil {
		if err := fault.Text("comment", *f.Comment, 1024, false); err != nil {
			return err
		}
		a.Comment = *f.Comment
	}
	return nil
}

func validProtocols(ps []store.Protocol) error {
	if len(ps) == 0 {
		return fault.InvalidField("protocols", "at least one protocol is required")
	}
	seen := make(map[string]bool)
	for i, p := range ps {
		field := fmt.Sprintf("protocols[%d]", i)
		if !knownProtocols[p.Name] {
			return fault.InvalidField(field+".name", "unknown protocol %q", p.Name)
		}
		if p.Port < 1 || p.Port > 65535 {
			return fault.InvalidField(field+".port", "must be between 1 and 65535")
		}
		if seen[p.Name] {
			return fault.InvalidField(field+".name", "protocol %q given twice", p.Name)
		}
		seen[p.Name] = true
	}
	return nil
}

// CreateAssets creates one or many assets, all or nothing. Every problem
// is reported with its row, so a failed import can be fixed in one pass.
func (s *Service) CreateAssets(ctx context.Context, a audit.Actor, rows []AssetFields) ([]store.Asset, error) {
	if len(rows) == 0 {
		return nil, fault.InvalidField("", "no assets given")
	}
	r, err := s.refs(ctx, rows)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]store.Asset, len(rows))
	var errs fault.List
	byName := make(map[string]int, len(rows))
	for i, f := range rows {
		as := &out[i]
		*as = store.Asset{ID: newID(), IsActive: true, CreatedBy: a.Username, DateCreated: now, DateUpdated: now}
		if err := s.applyAsset(as, f, r, true); err != nil {
			errs = errs.Add(fault.AtRow(err, i))
			continue
		}
		if j, dup := byName[as.Name]; dup {
			errs = errs.Add(fault.AtRow(fault.Errorf(fault.Conflict, "name", "asset %q is also in row %d", as.Name, j), i))
			continue
		}
		byName[as.Name] = i
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	taken, err := s.db.AssetNames(ctx, names)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if n := out[i].Name; taken[n] && byName[n] == i {
			errs = errs.Add(fault.AtRow(fault.Errorf(fault.Conflict, "name", "an asset named %q already exists", n), i))
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateAssets(ctx, out); err != nil {
			return fault.ConflictOr(err, "name", "an asset with one of these names")
		}
		for i := range out {
			if err := s.record(ctx, tx, a, audit.Change{Action: audit.Create, Type: "asset", ID: out[i].ID, Name: out[i].Name,
				After: viewAsset(&out[i])}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.obs.AssetsChanged(out)
	return out, nil
}

// UpdateAsset changes the given fields of an asset.
func (s *Service) UpdateAsset(ctx context.Context, a audit.Actor, id string, f AssetFields) (store.Asset, error) {
	as, err := s.db.Asset(ctx, id)
	if err != nil {
		return as, fault.NotFoundOr(err, "asset")
	}
	before := viewAsset(&as)
	r, err := s.refs(ctx, []AssetFields{f})
	if err != nil {
		return as, err
	}
	if err := s.applyAsset(&as, f, r, false); err != nil {
		return as, err
	}
	as.DateUpdated = s.now()
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.UpdateAsset(ctx, &as); err != nil {
			return fault.ConflictOr(err, "name", "an asset named "+as.Name)
		}
		return s.record(ctx, tx, a, audit.Change{Action: audit.Update, Type: "asset", ID: as.ID, Name: as.Name,
			Before: before, After: viewAsset(&as)})
	})
	if err != nil {
		return as, err
	}
	s.obs.AssetsChanged([]store.Asset{as})
	return as, nil
}

// DeleteAsset removes an asset.
func (s *Service) DeleteAsset(ctx context.Context, a audit.Actor, id string) error {
	as, err := s.db.Asset(ctx, id)
	if err != nil {
		return fault.NotFoundOr(err, "asset")
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteAsset(ctx, id); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.Change{Action: audit.Delete, Type: "asset", ID: as.ID, Name: as.Name, Before: viewAsset(&as)})
	})
	if err != nil {
		return err
	}
	s.obs.AssetDeleted(id)
	return nil
}
