package api

import "github.com/postern/postern/internal/query"

// allRows is a list query without paging, for small reference tables.
var allRows = query.Query{}
