package sftpproxy

import "sync/atomic"

// maxBuffered bounds the memory that all the gateway's SFTP sessions hold
// together in read-ahead blocks and in out-of-order data waiting to be
// hashed. Past it, downloads are read straight from the target (slower over
// a distant link, never wrong) and a transfer whose data comes out of order
// gets no digest: opening many handles or sessions cannot make the gateway
// hold more.
const maxBuffered = 256 << 20

// buffered is the part of maxBuffered in use.
var buffered atomic.Int64

// reserve takes n bytes of the budget, reporting whether they were free.
func reserve(n int) bool {
	if buffered.Add(int64(n)) > maxBuffered {
		buffered.Add(-int64(n))
		return false
	}
	return true
}

// unreserve gives n reserved bytes back.
func unreserve(n int) { buffered.Add(-int64(n)) }
