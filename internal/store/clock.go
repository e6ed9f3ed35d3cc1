package store

import "time"

// nowFunc is the clock; tests may replace it.
var nowFunc = time.Now
