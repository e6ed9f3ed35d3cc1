package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/postern/postern/internal/api"
)

// BenchmarkBulkImport10k posts 10,000 assets in one request through the
// real HTTP server onto SQLite; one op is one import into a fresh store.
// The product goal is under 2 s per op.
//
//	go test ./internal/api/ -run XXX -bench BulkImport10k -benchtime 3x
func BenchmarkBulkImport10k(b *testing.B) {
	const n = 10_000
	rows := make([]map[string]any, n)
	for i := range rows {
		rows[i] = map[string]any{
			"name": fmt.Sprintf("bench-host-%05d", i), "ip": fmt.Sprintf("10.%d.%d.%d", i/62500, i/250%250, i%250+1),
			"platform": map[string]any{"id": "2"}, "protocols": []map[string]any{{"name": "ssh", "port": 22}},
			"labels": map[string]string{"env": "bench"},
		}
	}
	body, err := json.Marshal(rows)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		e := newHTTPEnv(b, api.Config{})
		req, err := http.NewRequest("POST", e.url("/api/v2/assets/assets/"), bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.admin)

		b.StartTimer()
		res, err := e.srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		reply, err := io.ReadAll(res.Body)
		res.Body.Close()
		b.StopTimer()

		if err != nil || res.StatusCode != http.StatusCreated {
			if len(reply) > 500 {
				reply = reply[:500]
			}
			b.Fatalf("import: status %d, %v: %s", res.StatusCode, err, reply)
		}
		if got := e.assetCount(); got != n {
			b.Fatalf("imported %d assets, want %d", got, n)
		}
	}
}
