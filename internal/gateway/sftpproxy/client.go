package sftpproxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Packets of the handshake the proxy has with a target before its SFTP
// client takes over.
const (
	fxpInit         = 1
	sftpVersion     = 3
	defaultPacket   = 32 << 10 // what every server takes, and pkg/sftp's default
	maxHandshakeLen = 64 << 10 // the most a VERSION or limits reply may take
	limitsID        = 1        // the id of the proxy's limits request
)

// Client is an SFTP client to a target, with the request size it uses.
type Client struct {
	*sftp.Client
	packet int // bytes of data one read or write request carries
}

// chunk is the most one ReadAt may ask of the client: pkg/sftp reads a
// larger buffer with concurrent requests and takes a short reply to any
// of them for the end of the file, which only holds for regular files.
func (c *Client) chunk() int {
	if c.packet <= 0 {
		return defaultPacket
	}
	return c.packet
}

// handshakeTimeout bounds the wait for a target's sftp server to answer
// the handshake, so that one that never does cannot hold a session.
const handshakeTimeout = 30 * time.Second

// NewClient starts the sftp subsystem on an SSH connection to a target
// and returns a client for it with ClientOptions, for Backend.Dial.
//
// Before the client takes over, NewClient asks a target that offers
// limits@openssh.com (OpenSSH 8.6 and later) how much one read or write
// may carry, and the client then moves that much per request (up to
// maxReadLength, 255 KiB with OpenSSH) rather than pkg/sftp's 32 KiB: eight
// times fewer requests to the target for the same data, and eight times
// more data in flight for the same number of requests, which is what a
// transfer to a distant target is bound by. A target without the extension
// gets 32 KiB requests, which every server takes: the client reads a short
// answer as the end of the file, so it must never ask for more than a
// server is known to give.
func NewClient(conn *ssh.Client) (*Client, error) {
	s, err := conn.NewSession()
	if err != nil {
		return nil, err
	}
	// The target's stderr is drained, as pkg/sftp does, so that it can
	// never fill the channel's window.
	s.Stderr = io.Discard
	w, err := s.StdinPipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	r, err := s.StdoutPipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	if err := s.RequestSubsystem("sftp"); err != nil {
		s.Close()
		return nil, err
	}
	timer := time.AfterFunc(handshakeTimeout, func() { s.Close() })
	c, err := newClientOn(r, w)
	if !timer.Stop() {
		// The session was closed under the handshake.
		if err == nil {
			c.Close()
		}
		err = fmt.Errorf("the target's sftp server did not answer within %v", handshakeTimeout)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return c, nil
}

// newClientOn has the handshake with an SFTP server on r and w and returns
// a client for the rest of the conversation.
func newClientOn(r io.Reader, w io.WriteCloser) (*Client, error) {
	version, packet, err := handshake(r, w)
	if err != nil {
		w.Close()
		return nil, err
	}
	opts := ClientOptions()
	if packet != defaultPacket {
		opts = append(opts, sftp.MaxPacketUnchecked(packet))
	}
	// The client has the handshake again: it is given the server's VERSION
	// packet, and its own INIT goes nowhere.
	c, err := sftp.NewClientPipe(io.MultiReader(bytes.NewReader(version), r), &dropFirst{w: w}, opts...)
	if err != nil {
		return nil, err
	}
	return &Client{Client: c, packet: packet}, nil
}

// handshake sends INIT, reads the server's VERSION and, when the server
// offers limits@openssh.com, asks for its limits. It returns the VERSION
// packet whole and the payload size for reads and writes.
func handshake(r io.Reader, w io.Writer) (version []byte, packet int, err error) {
	if _, err := w.Write(frame(fxpInit, u32(sftpVersion))); err != nil {
		return nil, 0, err
	}
	version, err = readHandshakePacket(r)
	if err != nil {
		return nil, 0, err
	}
	if version[4] != fxpVersion || len(version) < 9 {
		return nil, 0, fmt.Errorf("the target's sftp server did not answer with its version (packet type %d)", version[4])
	}
	if !offers(version[9:], limitsExt) {
		return version, defaultPacket, nil
	}
	if _, err := w.Write(frame(fxpExtended, u32(limitsID), str(limitsExt))); err != nil {
		return nil, 0, err
	}
	reply, err := readHandshakePacket(r)
	if err != nil {
		return nil, 0, err
	}
	return version, packetFromLimits(reply), nil
}

// packetFromLimits is the payload size a limits reply allows: the smaller
// of its read and write lengths, at most maxReadLength (pkg/sftp's server
// on the operator's side takes no more), and the default when the reply is
// not a limits reply or leaves either length open.
func packetFromLimits(reply []byte) int {
	if len(reply) < 4+1+4+4*8 || reply[4] != fxpExtendedReply || binary.BigEndian.Uint32(reply[5:]) != limitsID {
		return defaultPacket
	}
	maxPacket := binary.BigEndian.Uint64(reply[9:])
	read, write := binary.BigEndian.Uint64(reply[17:]), binary.BigEndian.Uint64(reply[25:])
	if read == 0 || write == 0 {
		return defaultPacket
	}
	n := min(read, write, maxReadLength)
	if maxPacket != 0 {
		// A write's packet holds its handle and offset beside the data.
		n = min(n, max(maxPacket, 1024)-1024)
	}
	if n < 1024 {
		// Absurdly small: use the default, which every server should
		// take (the SFTP drafts ask servers for 34000-byte packets),
		// rather than this reply.
		return defaultPacket
	}
	return int(n)
}

// offers reports whether the extension pairs of a VERSION packet (after its
// version number) name ext.
func offers(pairs []byte, ext string) bool {
	for len(pairs) >= 4 {
		name, rest, ok := sshString(pairs)
		if !ok {
			return false
		}
		_, rest, ok = sshString(rest)
		if !ok {
			return false
		}
		if name == ext {
			return true
		}
		pairs = rest
	}
	return false
}

var errHandshakePacket = errors.New("the target's sftp server sent a malformed packet")

// readHandshakePacket reads one packet, length included.
func readHandshakePacket(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("the target's sftp server ended the handshake: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 1 || n > maxHandshakeLen {
		return nil, errHandshakePacket
	}
	p := make([]byte, 4+n)
	copy(p, hdr[:])
	if _, err := io.ReadFull(r, p[4:]); err != nil {
		return nil, fmt.Errorf("the target's sftp server ended the handshake: %w", err)
	}
	return p, nil
}

// dropFirst passes writes on after the first packet, which it swallows
// (pkg/sftp's INIT, already sent by handshake), however many writes that
// packet takes.
type dropFirst struct {
	w    io.WriteCloser
	hdr  []byte // the first packet's length, as it comes
	left int    // bytes of the first packet still to drop; -1 once dropped
}

func (d *dropFirst) Write(p []byte) (int, error) {
	n := 0
	for d.left >= 0 && n < len(p) {
		if len(d.hdr) < 4 {
			k := min(4-len(d.hdr), len(p)-n)
			d.hdr = append(d.hdr, p[n:n+k]...)
			n += k
			if len(d.hdr) == 4 {
				d.left = int(binary.BigEndian.Uint32(d.hdr))
			}
			continue
		}
		k := min(d.left, len(p)-n)
		d.left -= k
		n += k
		if d.left == 0 {
			d.left = -1
		}
	}
	if n == len(p) {
		return n, nil
	}
	m, err := d.w.Write(p[n:])
	return n + m, err
}

func (d *dropFirst) Close() error { return d.w.Close() }
