package sftpproxy

import (
	"io"
	"sync"
	"sync/atomic"
)

// Read-ahead sizes. pkg/sftp's server runs at most eight reads at once, so
// forwarding each read to the target as it comes keeps at most eight
// requests' worth in flight (256 KiB from clients that ask for 32 KiB at a
// time), and a download then waits on round trips to the target. Reading
// ahead in large blocks, each split into concurrent requests, keeps the
// pipe to the target full whatever the client asks for at a time.
const (
	raBlock  = 1 << 20 // bytes per block
	raWindow = 4       // blocks ahead of the one being read
	// raBehind blocks behind the newest read are kept for reads that
	// arrive late, having waited for a worker while later ones went
	// ahead. One that comes later still is read from the target again:
	// slower, never wrong.
	raBehind = 2
	// raDirect: a handle whose first read asks for this much or more is
	// not read ahead. Its reads, eight at once, keep at least 1 MiB in
	// flight to the target (about 2 MiB at 255 KiB a read, what an
	// OpenSSH target's window lets through anyway), and reading ahead
	// would only add a copy of every byte.
	raDirect = 128 << 10
)

// readAhead serves a download's sequential reads from blocks read ahead
// of them. A handle whose reads jump about (a client doing random access)
// stops reading ahead and goes straight to the target, so that it costs no
// more than without it. It is for handles opened only for reading: the
// data it holds would go stale under writes through the same handle.
type readAhead struct {
	f      splitReader // the target file
	block  int         // the size of a block: whole requests, about raBlock
	mu     sync.Mutex
	blocks []*raBuf // the window: consecutive, ascending
	next   int64    // the end of the first read; -1 before it
	random bool     // reads jumped about: no more reading ahead
	direct bool     // the first read was large (raDirect): no reading ahead
	eof    int64    // the file's end once a block met it; -1 before
	wg     sync.WaitGroup
}

// raBuf is one block, read in the background. Its buffer comes from
// blockPool and goes back when the last of its holders (the window, the
// read filling it, the reads copying from it) lets go: allocating a fresh
// megabyte per megabyte transferred costs more than the copying itself.
type raBuf struct {
	off  int64
	data []byte
	n    int
	err  error
	done chan struct{}
	refs atomic.Int32
}

var blockPool = sync.Pool{New: func() any { b := make([]byte, raBlock); return &b }}

func (b *raBuf) release() {
	if b.refs.Add(-1) == 0 {
		data := b.data[:cap(b.data)]
		b.data = nil
		blockPool.Put(&data)
		unreserve(raBlock)
	}
}

// newReadAhead reads ahead from f.
func newReadAhead(f splitReader) *readAhead {
	f.chunk = min(f.chunk, raBlock)
	return &readAhead{f: f, block: raBlock / f.chunk * f.chunk, next: -1, eof: -1}
}

// ReadAt reads len(p) bytes at off, or up to the end of the file.
func (r *readAhead) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		b := r.blockFor(pos, len(p)-n)
		if b == nil {
			m, err := r.f.ReadAt(p[n:], pos)
			return n + m, err
		}
		m, err := b.copyAt(p[n:], pos)
		b.release()
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// copyAt copies the block's bytes from pos into p once they are read; an
// io.EOF says the file ends within p.
func (b *raBuf) copyAt(p []byte, pos int64) (int, error) {
	<-b.done
	if b.err != nil && b.err != io.EOF {
		return 0, b.err
	}
	start := int(pos - b.off)
	if start >= b.n {
		return 0, io.EOF
	}
	n := copy(p, b.data[start:b.n])
	if b.n < len(b.data) && n < len(p) {
		return n, io.EOF // the block ended at the end of the file
	}
	return n, nil
}

// blockFor returns the block holding pos, starting a window of blocks
// there when the reads so far are sequential, or nil to read size bytes
// directly.
//
// The first read of a handle is always direct, so that a client reading
// only the start of a file (to sniff its type, say) does not make the
// target read megabytes for nothing; when it is large (raDirect), so are
// all the handle's reads. A later read counts as sequential
// when it lies within the span of reads that can be under way at once
// around the end of the first; reads behind the window are late ones,
// read directly without moving it.
func (r *readAhead) blockFor(pos int64, size int) *raBuf {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.direct {
		return nil
	}
	// pkg/sftp's server runs up to eight reads at once, so sequential
	// reads arrive within this much of the furthest one so far.
	spread := 8 * int64(max(size, readChunk))
	for i, b := range r.blocks {
		if pos >= b.off && pos < b.off+int64(r.block) {
			if pos > r.next+spread {
				// A jump forward that happens to land in the window:
				// random access after all.
				r.random = true
				r.drop(len(r.blocks))
				return nil
			}
			r.next = max(r.next, pos+int64(size))
			b.refs.Add(1) // the caller's, released after copying
			r.slide(i)
			return b
		}
	}
	switch {
	case r.random, r.eof >= 0 && pos >= r.eof:
		return nil
	case len(r.blocks) > 0:
		if pos < r.blocks[0].off {
			return nil
		}
		if pos != r.blocks[len(r.blocks)-1].off+int64(r.block) {
			// A jump ahead of the window.
			r.random = true
			r.drop(len(r.blocks))
			return nil
		}
	case r.next < 0:
		r.next, r.direct = pos+int64(size), size >= raDirect
		return nil
	default:
		if pos < r.next-spread || pos > r.next+spread {
			r.random = true
			return nil
		}
	}
	// A new window from here; blocks still being read finish unseen.
	r.next = max(r.next, pos+int64(size))
	r.drop(len(r.blocks))
	if !r.start(pos) {
		return nil // the gateway's read-ahead budget is spent
	}
	b := r.blocks[0]
	b.refs.Add(1)
	r.slide(0)
	return b
}

// drop lets go of the first n blocks of the window. Called with r.mu held.
func (r *readAhead) drop(n int) {
	for _, b := range r.blocks[:n] {
		b.release()
	}
	r.blocks = append(r.blocks[:0], r.blocks[n:]...)
}

// slide drops the blocks more than raBehind behind block i and starts
// blocks up to raWindow ahead of it. Called with r.mu held.
func (r *readAhead) slide(i int) {
	if i > raBehind {
		r.drop(i - raBehind)
		i = raBehind
	}
	for len(r.blocks)-i <= raWindow {
		end := r.blocks[len(r.blocks)-1].off + int64(r.block)
		if r.eof >= 0 && end >= r.eof || !r.start(end) {
			return
		}
	}
}

// start appends a block at off and reads it in the background, if the
// gateway's budget (maxBuffered) has room for it. Called with r.mu held.
func (r *readAhead) start(off int64) bool {
	if !reserve(raBlock) {
		return false
	}
	// block is at most raBlock: chunks are at most maxReadLength.
	b := &raBuf{off: off, data: (*blockPool.Get().(*[]byte))[:r.block], done: make(chan struct{})}
	b.refs.Store(2) // the window's and the read's
	r.blocks = append(r.blocks, b)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer b.release()
		b.n, b.err = r.f.ReadAt(b.data, b.off)
		if b.err == io.EOF {
			r.mu.Lock()
			if r.eof < 0 || b.off+int64(b.n) < r.eof {
				r.eof = b.off + int64(b.n)
			}
			r.mu.Unlock()
		}
		close(b.done)
	}()
	return true
}

// close lets go of the window and waits for the reads under way, before
// the file is closed.
func (r *readAhead) close() {
	r.mu.Lock()
	r.drop(len(r.blocks))
	r.mu.Unlock()
	r.wg.Wait()
}

// maxPieces bounds the requests one splitReader read has under way: a block is 32
// of pkg/sftp's default requests, and a target that allows only small ones
// must not get hundreds at once.
const maxPieces = 32

// readChunk is pkg/sftp's default packet size, which every SFTP server
// accepts, and the smallest request size a splitReader is given.
const readChunk = 32 << 10

// splitReader reads a target file in requests of chunk bytes (at most the
// client's packet size, Client.chunk) issued together. pkg/sftp's own
// concurrent read of a buffer larger than a packet takes any short reply
// for the end of the file, which holds for regular files but not for pipes
// or /proc; a read of one packet carries on after short replies, so reads
// are split here and the pieces joined with that in mind.
type splitReader struct {
	f     io.ReaderAt
	chunk int
}

// ReadAt fills p from off, up to the end of the file.
func (r splitReader) ReadAt(p []byte, off int64) (int, error) {
	f, chunk := r.f, r.chunk
	if len(p) <= chunk {
		return f.ReadAt(p, off)
	}
	type piece struct {
		n   int
		err error
	}
	pieces := make([]piece, (len(p)+chunk-1)/chunk)
	var wg sync.WaitGroup
	// At most maxPieces requests at once, however small the chunks.
	busy := make(chan struct{}, maxPieces)
	for i := range pieces {
		busy <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-busy; wg.Done() }()
			q := p[i*chunk : min(len(p), (i+1)*chunk)]
			pieces[i].n, pieces[i].err = f.ReadAt(q, off+int64(i*chunk))
		}()
	}
	wg.Wait()
	n := 0
	for i, pc := range pieces {
		n += pc.n
		if want := min(len(p), (i+1)*chunk) - i*chunk; pc.n < want {
			if pc.err == nil {
				pc.err = io.ErrUnexpectedEOF // a ReaderAt breaking its contract
			}
			return n, pc.err
		}
	}
	return n, nil
}
