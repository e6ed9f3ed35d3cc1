package api

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter holds a token bucket per client address and per principal.
// Idle buckets are dropped so that a scan from many addresses cannot grow
// memory without bound.
type limiter struct {
	mu      sync.Mutex
	ip      map[string]*bucket
	user    map[string]*bucket
	ipRate  rate.Limit
	ipBurst int
	uRate   rate.Limit
	uBurst  int
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(c Config) *limiter {
	return &limiter{ip: map[string]*bucket{}, user: map[string]*bucket{},
		ipRate: rate.Limit(c.RatePerIP), ipBurst: c.BurstPerIP, uRate: rate.Limit(c.RatePerUser), uBurst: c.BurstPerUser}
}

func (l *limiter) allowIP(ip string, now time.Time) (time.Duration, bool) {
	return l.allow(l.ip, ip, l.ipRate, l.ipBurst, now)
}

func (l *limiter) allowUser(id string, now time.Time) (time.Duration, bool) {
	return l.allow(l.user, id, l.uRate, l.uBurst, now)
}

func (l *limiter) allow(m map[string]*bucket, key string, r rate.Limit, burst int, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		l.sweep(now)
	}
	b := m[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(r, burst)}
		m[key] = b
	}
	b.seen = now
	res := b.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

func (l *limiter) sweep(now time.Time) {
	for _, m := range []map[string]*bucket{l.ip, l.user} {
		for k, b := range m {
			// A bucket idle this long has refilled completely, so
			// forgetting it changes nothing.
			if now.Sub(b.seen) > 10*time.Minute {
				delete(m, k)
			}
		}
	}
	l.swept = now
}
