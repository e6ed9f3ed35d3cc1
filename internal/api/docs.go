package api

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// docsHTML is the interactive API reference. It is self-contained (inline
// CSS and script, no fonts or CDNs) so that it works on a bastion with no
// way out to the internet, and renders the spec from /api/v2/openapi.json.
//
//go:embed docs.html
var docsHTML []byte

// docsCSP allows the page's own inline style and script by hash and
// nothing else: no other origins, no injected script even if some spec
// text were ever mis-rendered, and fetches only back to this server.
var docsCSP = "default-src 'none'; " +
	"script-src " + inlineHashes(docsHTML, "script") + "; " +
	"style-src " + inlineHashes(docsHTML, "style") + "; " +
	"connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// inlineHashes returns the CSP source list of the sha256 hashes of every
// <tag>...</tag> element's content in page, or 'none' when there are none.
func inlineHashes(page []byte, tag string) string {
	open, end := []byte("<"+tag+">"), []byte("</"+tag+">")
	var out []string
	for rest := page; ; {
		i := bytes.Index(rest, open)
		if i < 0 {
			break
		}
		rest = rest[i+len(open):]
		j := bytes.Index(rest, end)
		if j < 0 {
			break
		}
		sum := sha256.Sum256(rest[:j])
		out = append(out, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
		rest = rest[j+len(end):]
	}
	if len(out) == 0 {
		return "'none'"
	}
	return strings.Join(out, " ")
}

// registerDocs adds the OpenAPI document and the reference page. Both are
// public: the API's shape is no secret (the source is open), and a client
// needs the spec before it has a token. The spec is built on first request
// rather than here, because routes registered after this call must still
// appear in it; the table is fixed once New returns.
func (s *Server) registerDocs() {
	var (
		once sync.Once
		spec []byte
		err  error
	)
	specJSON := func() ([]byte, error) {
		once.Do(func() { spec, err = json.Marshal(s.OpenAPI()) })
		return spec, err
	}
	s.add(&Route{Method: "GET", Path: "/api/v2/openapi.json", Tag: "system", Public: true,
		Summary: "This API described as an OpenAPI 3.1 document", Reply: map[string]any{},
		Handle: func(c *call) (any, error) {
			b, err := specJSON()
			if err != nil {
				return nil, err
			}
			return rawReply(func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/json")
				serveStatic(w, c.r, b)
			}), nil
		}})
	s.add(&Route{Method: "GET", Path: "/api/docs/", Tag: "system", Public: true,
		Summary: "Interactive API reference (HTML) with a request console", Reply: htmlPage(""),
		Handle: func(c *call) (any, error) {
			return rawReply(func(w http.ResponseWriter) {
				h := w.Header()
				h.Set("Content-Type", "text/html; charset=utf-8")
				h.Set("Content-Security-Policy", docsCSP)
				h.Set("Referrer-Policy", "no-referrer")
				serveStatic(w, c.r, docsHTML)
			}), nil
		}})
}

// serveStatic answers with b, letting a client that already holds this
// version revalidate with If-None-Match instead of downloading it again.
func serveStatic(w http.ResponseWriter, r *http.Request, b []byte) {
	sum := sha256.Sum256(b)
	w.Header().Set("ETag", `"`+base64.RawURLEncoding.EncodeToString(sum[:16])+`"`)
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}
