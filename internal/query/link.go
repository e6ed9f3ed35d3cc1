package query

import (
	"net/url"
	"strconv"
)

// Next returns the link to the page after q for a list of count rows in all,
// as an absolute path with every other parameter of u kept, or nil when q is
// the last page or has no limit. A link whose offset Parse would reject is
// not offered.
func (q Query) Next(u *url.URL, count int) *string {
	if q.Limit <= 0 {
		return nil
	}
	next := q.Offset + q.Limit
	if next >= count || next > MaxPage {
		return nil
	}
	return link(u, q.Limit, next)
}

// Previous returns the link to the page before q, or nil when q is the first
// page or has no limit. Its offset is clamped at 0 rather than going
// negative, so after an odd offset the previous page overlaps q.
func (q Query) Previous(u *url.URL) *string {
	if q.Limit <= 0 || q.Offset <= 0 {
		return nil
	}
	return link(u, q.Limit, max(q.Offset-q.Limit, 0))
}

// link rewrites u's limit and offset. The limit is always written out, even
// when it came from the schema's MaxLimit, so the link means the same thing
// if the cap changes. Parameters come out sorted by url.Values.Encode.
func link(u *url.URL, limit, offset int) *string {
	// The error is moot: ParseRaw refuses what ParseQuery would drop, and
	// url.URL.Query dropped the same pairs before Parse saw them.
	v, _ := url.ParseQuery(u.RawQuery)
	v.Set(ParamLimit, strconv.Itoa(limit))
	if offset > 0 {
		v.Set(ParamOffset, strconv.Itoa(offset))
	} else {
		v.Del(ParamOffset)
	}
	s := u.EscapedPath() + "?" + v.Encode()
	return &s
}
