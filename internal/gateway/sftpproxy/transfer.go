package sftpproxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"sync"
	"sync/atomic"

	"github.com/pkg/sftp"
)

// maxPending bounds the out-of-order data a digest holds while it waits
// for the bytes before it, counted as the memory it takes (pendingCost).
// pkg/sftp's server hands a handle's reads and writes to several workers
// at once, so packets sent in order reach us a little out of order; a
// client that reorders far more than this (random access) gets no digest
// rather than unbounded memory use. The gateway-wide budget
// (maxBuffered) applies too.
const maxPending = 16 << 20

// pendingCost is what holding q costs: its buffer and its place in the
// map.
func pendingCost(q []byte) int { return cap(q) + 64 }

// digest is the SHA-256 of the bytes of one direction of a transfer,
// hashed in file order as they pass (see Event.SHA256).
type digest struct {
	mu      sync.Mutex
	h       hash.Hash
	next    int64            // bytes hashed so far: the offset awaited
	pending map[int64][]byte // data beyond next, copied, by offset
	held    int              // bytes in pending
	broken  bool             // a gap, an overlap or too much reordering
}

func newDigest() *digest { return &digest{h: sha256.New()} }

// add hashes p, found at offset off.
func (d *digest) add(p []byte, off int64) {
	if len(p) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.broken:
	case off == d.next:
		d.h.Write(p)
		d.next += int64(len(p))
		for len(d.pending) > 0 {
			q, ok := d.pending[d.next]
			if !ok {
				break
			}
			delete(d.pending, d.next)
			cost := pendingCost(q)
			d.held -= cost
			unreserve(cost)
			d.h.Write(q)
			d.next += int64(len(q))
			putChunk(q)
		}
	case off > d.next:
		// Copied: the caller's buffer is not ours to keep.
		q := copyChunk(p)
		cost := pendingCost(q)
		if _, dup := d.pending[off]; dup || d.held+cost > maxPending || !reserve(cost) {
			putChunk(q)
			d.fail()
			return
		}
		if d.pending == nil {
			d.pending = map[int64][]byte{}
		}
		d.pending[off] = q
		d.held += cost
	default: // data again for bytes already hashed
		d.fail()
	}
}

func (d *digest) fail() {
	for _, q := range d.pending {
		putChunk(q)
	}
	unreserve(d.held)
	d.broken, d.pending, d.held = true, nil, 0
}

// chunkPool holds buffers for out-of-order data, which is frequent (most
// transfers have some) and short-lived.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, maxReadLength); return &b }}

// copyChunk copies p: into a pooled buffer when it is about the size of
// one, else into one of its own size, so that a small piece never holds a
// large buffer.
func copyChunk(p []byte) []byte {
	if len(p) < maxReadLength/2 || len(p) > maxReadLength {
		return bytes.Clone(p)
	}
	return append((*chunkPool.Get().(*[]byte))[:0], p...)
}

func putChunk(b []byte) {
	if cap(b) == maxReadLength {
		chunkPool.Put(&b)
	}
}

// release lets go of the data still waiting for bytes before it (a gap
// never filled), giving its part of the budget back. The digest has no
// sum after it.
func (d *digest) release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fail()
}

// sum is the hex digest, or "" when the data was not one run from offset
// 0: chunks still waiting mean a gap was never filled.
func (d *digest) sum() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.broken || len(d.pending) > 0 {
		return ""
	}
	return hex.EncodeToString(d.h.Sum(nil))
}

// transfer is an open file on a target, as the request server sees it
// (io.ReaderAt, io.WriterAt, or both), counting and hashing what passes
// and auditing the transfer when it is closed.
type transfer struct {
	s     *session
	f     *sftp.File
	src   io.ReaderAt // reads: ra, or the file in requests the target takes
	ra    *readAhead  // for a handle opened only for reading
	read  bool        // opened for reading
	write bool        // opened for writing
	down  transferLeg
	up    transferLeg
	ev    Event // Target, Path and At; Op, Size and the rest at close
	// appendFrom is, for a handle opened to append, the file's size at
	// open, below which writes are refused (osFlags); -1 otherwise.
	appendFrom int64
	mu         sync.Mutex
	err        error // the first failure, which fails the transfer
	closed     bool
}

// transferLeg is one direction of a transfer.
type transferLeg struct {
	bytes atomic.Int64
	dig   *digest
}

func newTransfer(s *session, f *sftp.File, chunk int, ev Event, read, write bool) *transfer {
	x := &transfer{s: s, f: f, src: splitReader{f, chunk}, read: read, write: write, ev: ev, appendFrom: -1}
	x.down.dig, x.up.dig = newDigest(), newDigest()
	if read && !write {
		x.ra = newReadAhead(splitReader{f, chunk})
		x.src = x.ra
	}
	return x
}

// ReadAt reads from the target file for the operator.
func (x *transfer) ReadAt(p []byte, off int64) (n int, err error) {
	n, err = x.src.ReadAt(p, off)
	if n > 0 {
		x.down.dig.add(p[:n], off)
		x.down.bytes.Add(int64(n))
	}
	if err != nil && err != io.EOF {
		err = fromTarget(err)
		x.failed(err)
	}
	return n, err
}

// WriteAt writes the operator's data to the target file. The data is
// hashed before it is sent on: that keeps the hash's input closest to the
// order it arrived in, and a write that then fails fails the transfer,
// which drops the digest anyway.
func (x *transfer) WriteAt(p []byte, off int64) (int, error) {
	if x.appendFrom >= 0 && off < x.appendFrom {
		err := newStatus(sftp.ErrSSHFxOpUnsupported, "postern: appending writes must give the offset at the end of the file (%d), not %d", x.appendFrom, off)
		x.failed(err)
		return 0, err
	}
	x.up.dig.add(p, off)
	n, err := x.f.WriteAt(p, off)
	x.up.bytes.Add(int64(n))
	if err != nil {
		err = fromTarget(err)
		x.failed(err)
	}
	return n, err
}

// TransferError is told why the session ended with the file still open.
func (x *transfer) TransferError(err error) {
	x.failed(newStatus(sftp.ErrSSHFxConnectionLost, "the operator's connection ended mid-transfer: %v", err))
}

func (x *transfer) failed(err error) {
	x.mu.Lock()
	if x.err == nil {
		x.err = err
	}
	x.mu.Unlock()
}

// Close closes the target file, whose error is the last word on whether
// written data arrived, and audits the transfer: an upload for a handle
// opened for writing, a download for one opened for reading (a read-write
// handle that was read from is both).
func (x *transfer) Close() error {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return nil
	}
	x.closed = true
	x.mu.Unlock()
	defer x.s.putFile()
	// Whatever the outcome, out-of-order data still held (a resumed
	// transfer, one that failed) goes, after the digests are read.
	defer x.up.dig.release()
	defer x.down.dig.release()
	if x.ra != nil {
		x.ra.close()
	}
	cerr := fromTarget(x.f.Close())
	if cerr != nil {
		x.failed(cerr)
	}
	x.mu.Lock()
	err := x.err
	x.mu.Unlock()
	emit := func(op string, leg *transferLeg) {
		ev := x.ev
		ev.Op, ev.Size, ev.Success = op, leg.bytes.Load(), err == nil
		if err != nil {
			ev.Err = err.Error()
		} else {
			ev.SHA256 = leg.dig.sum()
		}
		x.s.audit(ev)
	}
	if x.write {
		emit(OpUpload, &x.up)
	}
	if x.read && (!x.write || x.down.bytes.Load() > 0) {
		emit(OpDownload, &x.down)
	}
	return cerr
}
