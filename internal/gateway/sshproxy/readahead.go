package sshproxy

import "net"

// The SSH library reads a connection through a 4 KiB buffer: a 32 KiB
// data packet costs it two or three read(2) calls, and each of those that
// finds the socket empty parks the reader until the poller wakes it. While
// a target streams bulk output, bulkConn reads the socket in large pieces
// instead, so one system call brings several packets. An idle or
// interactive connection holds no buffer: one is taken from a pool when a
// read fills what was asked for (more is waiting), and given back once
// the reads drain it and come up short.

// The read-ahead buffers are the copy buffers of proxy.go (largeBuf,
// bufPool): one pool of large buffers serves both.

// BulkReads returns c with its reads buffered as described above, for an
// SSH connection's transport (one reader at a time).
func BulkReads(c net.Conn) net.Conn { return &bulkConn{Conn: c} }

// bulkConn is a net.Conn whose reads come from a read-ahead buffer while
// data streams in. It is read by one goroutine at a time, as the SSH
// transport does.
type bulkConn struct {
	net.Conn
	buf       *[]byte // the read-ahead buffer, nil when not streaming
	r, w      int     // the unread part of *buf
	streaming bool    // the last read filled what was asked for
}

func (c *bulkConn) Read(p []byte) (int, error) {
	if c.r < c.w {
		n := copy(p, (*c.buf)[c.r:c.w])
		c.r += n
		return n, nil
	}
	if !c.streaming {
		if c.buf != nil {
			bufPool.Put(c.buf)
			c.buf = nil
		}
		n, err := c.Conn.Read(p)
		c.streaming = n == len(p) && n > 0
		return n, err
	}
	if c.buf == nil {
		c.buf = bufPool.Get().(*[]byte)
	}
	n, err := c.Conn.Read(*c.buf)
	// A short read means the socket is drained: the next read after this
	// buffer is used up goes back to reading straight into the caller's.
	c.streaming = n > len(*c.buf)/2
	c.r, c.w = 0, n
	if n == 0 {
		return 0, err
	}
	k := copy(p, (*c.buf)[:n])
	c.r = k
	// An error is reported once the buffered data is read, by the next
	// read of the socket.
	return k, nil
}
