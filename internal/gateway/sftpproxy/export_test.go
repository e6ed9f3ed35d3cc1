package sftpproxy

import "time"

// MaxFiles is maxFiles, for the package's external tests.
const MaxFiles = maxFiles

// SetCloseGrace sets closeGrace until the returned function puts it back.
// Only tests that do not run in parallel may use it.
func SetCloseGrace(d time.Duration) (restore func()) {
	old := closeGrace
	closeGrace = d
	return func() { closeGrace = old }
}

// Buffered is the part of the gateway's SFTP memory budget in use.
func Buffered() int64 { return buffered.Load() }
