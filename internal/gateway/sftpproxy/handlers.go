package sftpproxy

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/pkg/sftp"
)

// The session is pkg/sftp's request handler for every kind of request.
var (
	_ sftp.FileReader           = (*session)(nil)
	_ sftp.OpenFileWriter       = (*session)(nil)
	_ sftp.PosixRenameFileCmder = (*session)(nil)
	_ sftp.StatVFSFileCmder     = (*session)(nil)
	_ sftp.LstatFileLister      = (*session)(nil)
	_ sftp.RealPathFileLister   = (*session)(nil)
	_ sftp.ReadlinkFileLister   = (*session)(nil)
)

// errTopLevel refuses changes to the virtual tree itself.
func errTopLevel(p string) error {
	return errDenied("%s is in Postern's list of assets and system users, which cannot be changed; files go under /ASSET/SYSTEMUSER/", p)
}

// Fileread opens a file for reading: a download.
func (s *session) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	x, err := s.open(r, true, false)
	if err != nil {
		return nil, err
	}
	return x, nil
}

// Filewrite opens a file for writing, creating or truncating: an upload.
func (s *session) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	x, err := s.open(r, false, true)
	if err != nil {
		return nil, err
	}
	return x, nil
}

// OpenFile opens a file for reading and writing, which needs both
// actions.
func (s *session) OpenFile(r *sftp.Request) (sftp.WriterAtReaderAt, error) {
	x, err := s.open(r, true, true)
	if err != nil {
		return nil, err
	}
	return x, nil
}

func (s *session) open(r *sftp.Request, read, write bool) (*transfer, error) {
	ctx := r.Context()
	op, need := OpDownload, []string{ActionDownload}
	switch {
	case read && write:
		op, need = OpUpload, []string{ActionUpload, ActionDownload}
	case write:
		op, need = OpUpload, []string{ActionUpload}
	}
	pl, err := s.resolve(ctx, r.Filepath)
	ev := Event{Target: pl.target(), Op: op, Path: pl.where(), At: time.Now()}
	switch {
	case write && pl.inTree:
		err = errTopLevel(pl.shown)
	case err == nil && (pl.t == nil || pl.top):
		err = newStatus(sftp.ErrSSHFxFailure, "postern: %s is a directory", pl.shown)
	}
	if err != nil {
		s.fail(ev, err)
		return nil, err
	}
	if err := s.need(ev, need...); err != nil {
		return nil, err
	}
	c, err := s.client(*pl.t)
	if err == nil {
		err = s.takeFile()
	}
	if err != nil {
		s.fail(ev, err)
		return nil, err
	}
	flags := r.Pflags()
	f, err := c.OpenFile(pl.path, osFlags(flags, read, write))
	if err != nil {
		s.putFile()
		err = fromTarget(err)
		s.fail(ev, err)
		return nil, err
	}
	x := newTransfer(s, f, c.chunk(), ev, read, write)
	if flags.Append {
		fi, err := f.Stat()
		if err != nil {
			s.putFile()
			f.Close()
			err = fromTarget(err)
			s.fail(ev, err)
			return nil, err
		}
		x.appendFrom = fi.Size()
	}
	return x, nil
}

// osFlags turns the client's open flags into the os.OpenFile flags the
// target client takes, passing through create, truncate and exclusive.
//
// Append is not passed on. A target appends each write at the end in the
// order it receives them, and pkg/sftp's server hands writes to several
// workers, so they would land out of order. Writes go to the offsets the
// client gives instead, which is the same thing for clients that resume
// at the end of the file (sftp's reput and put -a); writes below the
// file's size at open, from a client counting on the target to append, are
// refused (transfer.WriteAt) rather than let overwrite the file.
func osFlags(p sftp.FileOpenFlags, read, write bool) int {
	f := os.O_RDONLY
	switch {
	case read && write:
		f = os.O_RDWR
	case write:
		f = os.O_WRONLY
	}
	if p.Creat {
		f |= os.O_CREATE
	}
	if p.Trunc {
		f |= os.O_TRUNC
	}
	if p.Excl {
		f |= os.O_EXCL
	}
	return f
}

// Filecmd carries out the commands that change the filesystem.
func (s *session) Filecmd(r *sftp.Request) error {
	switch r.Method {
	case "Setstat":
		return s.setstat(r)
	case "Rename":
		return s.rename(r, false)
	case "Rmdir":
		return s.onTarget(r, OpRmdir, ActionDelete, func(c *sftp.Client, p string) error {
			return c.RemoveDirectory(p)
		})
	case "Remove":
		return s.onTarget(r, OpDelete, ActionDelete, func(c *sftp.Client, p string) error {
			// The client's Remove also removes empty directories; remove
			// does not, on a target reached directly. A path that cannot
			// be looked at is not removed at all: it may be one.
			fi, err := c.Lstat(p)
			if err != nil {
				return err
			}
			if fi.IsDir() {
				return newStatus(sftp.ErrSSHFxFailure, "%s is a directory", p)
			}
			return c.Remove(p)
		})
	case "Mkdir":
		return s.onTarget(r, OpMkdir, ActionUpload, func(c *sftp.Client, p string) error {
			return c.Mkdir(p)
		})
	case "Symlink":
		return s.symlink(r)
	case "Link":
		return s.link(r)
	}
	return newStatus(sftp.ErrSSHFxOpUnsupported, "postern: %s is not supported", r.Method)
}

// PosixRename renames, replacing an existing target (posix-rename@openssh.com).
func (s *session) PosixRename(r *sftp.Request) error { return s.rename(r, true) }

// onTarget runs a one-path command that needs action on the target,
// auditing it as op.
func (s *session) onTarget(r *sftp.Request, op, action string, do func(c *sftp.Client, p string) error) error {
	ctx := r.Context()
	pl, err := s.resolve(ctx, r.Filepath)
	ev := Event{Target: pl.target(), Op: op, Path: pl.where(), At: time.Now()}
	if pl.inTree {
		err = errTopLevel(pl.shown)
	}
	if err != nil {
		s.fail(ev, err)
		return err
	}
	if err := s.need(ev, action); err != nil {
		return err
	}
	return s.run(ev, func(c *sftp.Client) error { return do(c, pl.path) })
}

// run connects to ev's target, runs do and audits the outcome.
func (s *session) run(ev Event, do func(c *sftp.Client) error) error {
	c, err := s.client(ev.Target)
	if err == nil {
		err = fromTarget(do(c.Client))
	}
	if err != nil {
		s.fail(ev, err)
		return err
	}
	ev.Success = true
	s.audit(ev)
	return nil
}

// pair resolves the two paths of a rename or link, which must lead to the
// same target.
func (s *session) pair(ctx context.Context, from, to string, op string) (a, b place, ev Event, err error) {
	a, err = s.resolve(ctx, from)
	ev = Event{Target: a.target(), Op: op, Path: a.where(), Path2: to, At: time.Now()}
	if a.inTree {
		return a, b, ev, errTopLevel(a.shown)
	}
	if err != nil {
		return a, b, ev, err
	}
	b, err = s.resolve(ctx, to)
	ev.Path2 = b.where()
	switch {
	case b.inTree:
		err = errTopLevel(b.shown)
	case err != nil:
	case a.t.key() != b.t.key():
		err = newStatus(sftp.ErrSSHFxFailure, "postern: %s and %s are on different targets; a %s stays within one", a.shown, b.shown, op)
	}
	return a, b, ev, err
}

// rename needs upload (a new name appears) and delete (the old one goes,
// and an existing file at the new name is replaced).
func (s *session) rename(r *sftp.Request, posix bool) error {
	a, b, ev, err := s.pair(r.Context(), r.Filepath, r.Target, OpRename)
	if err != nil {
		s.fail(ev, err)
		return err
	}
	if err := s.need(ev, ActionUpload, ActionDelete); err != nil {
		return err
	}
	return s.run(ev, func(c *sftp.Client) error {
		if _, ok := c.HasExtension("posix-rename@openssh.com"); posix && ok {
			return c.PosixRename(a.path, b.path)
		}
		return c.Rename(a.path, b.path)
	})
}

// link makes a hard link at r.Target to r.Filepath: it creates a name, so
// it needs upload.
func (s *session) link(r *sftp.Request) error {
	a, b, ev, err := s.pair(r.Context(), r.Filepath, r.Target, OpLink)
	if err != nil {
		s.fail(ev, err)
		return err
	}
	if err := s.need(ev, ActionUpload); err != nil {
		return err
	}
	return s.run(ev, func(c *sftp.Client) error { return c.Link(a.path, b.path) })
}

// symlink makes a symbolic link at r.Target whose content is r.Filepath,
// passed to the target untouched: a link's content is the target's own
// path, in both modes.
func (s *session) symlink(r *sftp.Request) error {
	ctx := r.Context()
	pl, err := s.resolve(ctx, r.Target)
	ev := Event{Target: pl.target(), Op: OpSymlink, Path: r.Filepath, Path2: pl.where(), At: time.Now()}
	if pl.inTree {
		err = errTopLevel(pl.shown)
	}
	if err != nil {
		s.fail(ev, err)
		return err
	}
	if err := s.need(ev, ActionUpload); err != nil {
		return err
	}
	return s.run(ev, func(c *sftp.Client) error { return c.Symlink(r.Filepath, pl.path) })
}

// setstat changes attributes, as put -p and chmod do: it changes the
// file, so it needs upload. Path2 of the event says what changed.
func (s *session) setstat(r *sftp.Request) error {
	ctx := r.Context()
	pl, err := s.resolve(ctx, r.Filepath)
	flags, attrs := r.AttrFlags(), r.Attributes()
	var what []string
	if attrs != nil {
		if flags.Size {
			what = append(what, fmt.Sprintf("size=%d", attrs.Size))
		}
		if flags.UidGid {
			what = append(what, fmt.Sprintf("owner=%d:%d", attrs.UID, attrs.GID))
		}
		if flags.Permissions {
			what = append(what, fmt.Sprintf("mode=%04o", attrs.Mode&0o7777))
		}
		if flags.Acmodtime {
			what = append(what, "mtime="+attrs.ModTime().UTC().Format(time.RFC3339))
		}
	}
	ev := Event{Target: pl.target(), Op: OpSetstat, Path: pl.where(), Path2: strings.Join(what, " "), At: time.Now()}
	if pl.inTree {
		err = errTopLevel(pl.shown)
	}
	if err != nil {
		s.fail(ev, err)
		return err
	}
	if err := s.need(ev, ActionUpload); err != nil {
		return err
	}
	if attrs == nil {
		err := newStatus(sftp.ErrSSHFxBadMessage, "postern: malformed attributes")
		s.fail(ev, err)
		return err
	}
	return s.run(ev, func(c *sftp.Client) error {
		p := pl.path
		if flags.Size {
			if err := c.Truncate(p, int64(attrs.Size)); err != nil {
				return err
			}
		}
		if flags.UidGid {
			if err := c.Chown(p, int(attrs.UID), int(attrs.GID)); err != nil {
				return err
			}
		}
		if flags.Permissions {
			if err := c.Chmod(p, os.FileMode(attrs.Mode&0o777)|posixBits(attrs.Mode)); err != nil {
				return err
			}
		}
		if flags.Acmodtime {
			return c.Chtimes(p, attrs.AccessTime(), attrs.ModTime())
		}
		return nil
	})
}

// posixBits maps setuid, setgid and sticky from SFTP's POSIX mode to Go's.
func posixBits(mode uint32) os.FileMode {
	var m os.FileMode
	if mode&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if mode&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if mode&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m
}

// StatVFS answers df from the target's filesystem.
func (s *session) StatVFS(r *sftp.Request) (*sftp.StatVFS, error) {
	pl, err := s.resolve(r.Context(), r.Filepath)
	if err != nil {
		return nil, err
	}
	if pl.t == nil {
		return nil, newStatus(sftp.ErrSSHFxOpUnsupported, "postern: %s is not on a target", pl.shown)
	}
	c, err := s.client(*pl.t)
	if err != nil {
		return nil, err
	}
	if _, ok := c.HasExtension("statvfs@openssh.com"); !ok {
		return nil, newStatus(sftp.ErrSSHFxOpUnsupported, "the target does not report filesystem statistics")
	}
	st, err := c.StatVFS(pl.path)
	return st, fromTarget(err)
}

// Filelist lists a directory or stats a path.
func (s *session) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	if r.Method == "List" {
		return s.listDir(r)
	}
	return s.stat(r, false)
}

// Lstat stats a path without following a final symbolic link.
func (s *session) Lstat(r *sftp.Request) (sftp.ListerAt, error) {
	return s.stat(r, true)
}

func (s *session) listDir(r *sftp.Request) (sftp.ListerAt, error) {
	ctx := r.Context()
	pl, err := s.resolve(ctx, r.Filepath)
	if err != nil {
		return nil, err
	}
	if pl.t == nil {
		r, err := s.targets(ctx)
		if err != nil {
			return nil, err
		}
		ts := r.list
		if pl.asset != "" {
			ts = r.byAsset[pl.asset]
		}
		var out listing
		for _, t := range ts {
			name := t.SystemUser
			if pl.asset == "" {
				name = t.Asset
				if len(out) > 0 && out[len(out)-1].Name() == name {
					continue
				}
			}
			out = append(out, dirInfo{name: name, mod: s.began})
		}
		return out, nil
	}
	c, err := s.client(*pl.t)
	if err != nil {
		return nil, err
	}
	fis, err := c.ReadDirContext(ctx, pl.path)
	if err != nil {
		return nil, fromTarget(err)
	}
	out := make(listing, len(fis))
	for i, fi := range fis {
		out[i] = withOwner(fi)
	}
	return out, nil
}

func (s *session) stat(r *sftp.Request, lstat bool) (sftp.ListerAt, error) {
	pl, err := s.resolve(r.Context(), r.Filepath)
	if err != nil {
		return nil, err
	}
	if pl.t == nil || pl.top {
		// The virtual directories, /ASSET/SYSUSER included: stat them
		// without connecting to anything.
		return listing{dirInfo{name: path.Base(pl.shown), mod: s.began}}, nil
	}
	c, err := s.client(*pl.t)
	if err != nil {
		return nil, err
	}
	var fi os.FileInfo
	if lstat {
		fi, err = c.Lstat(pl.path)
	} else {
		fi, err = c.Stat(pl.path)
	}
	if err != nil {
		return nil, fromTarget(err)
	}
	return listing{withOwner(fi)}, nil
}

// RealPath makes p absolute and canonical. On a target the target does it,
// resolving symbolic links as it would for a client of its own; above the
// targets it is lexical.
func (s *session) RealPath(p string) (string, error) {
	abs := p
	if !path.IsAbs(abs) {
		abs = path.Join(s.start, abs)
	}
	abs = path.Clean(abs)
	pl, err := s.resolve(s.ctx, abs)
	if err != nil || pl.t == nil || pl.top {
		// Unknown paths above the targets are cleaned as they are; the
		// stat or open that follows reports them missing.
		return abs, nil
	}
	c, err := s.client(*pl.t)
	if err != nil {
		return "", err
	}
	canon, err := c.RealPath(pl.path)
	if err != nil {
		return "", fromTarget(err)
	}
	return s.shownPath(*pl.t, canon), nil
}

// Readlink reads a symbolic link's content, which is passed on untouched.
func (s *session) Readlink(p string) (string, error) {
	pl, err := s.resolve(s.ctx, p)
	if err != nil {
		return "", err
	}
	if pl.t == nil || pl.top {
		return "", newStatus(sftp.ErrSSHFxFailure, "postern: %s is not a symbolic link", pl.shown)
	}
	c, err := s.client(*pl.t)
	if err != nil {
		return "", err
	}
	dst, err := c.ReadLink(pl.path)
	return dst, fromTarget(err)
}

// listing is a directory read in full, served in pages.
type listing []os.FileInfo

// ListAt copies the entries from offset off into dst.
func (l listing) ListAt(dst []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(dst, l[off:])
	if n < len(dst) {
		return n, io.EOF
	}
	return n, nil
}

// ownedInfo passes a target's owner and group on: pkg/sftp's server sends
// them only for infos that say what they are.
type ownedInfo struct {
	os.FileInfo
	st *sftp.FileStat
}

func (o ownedInfo) Uid() uint32 { return o.st.UID }
func (o ownedInfo) Gid() uint32 { return o.st.GID }

func withOwner(fi os.FileInfo) os.FileInfo {
	if st, ok := fi.Sys().(*sftp.FileStat); ok {
		return ownedInfo{FileInfo: fi, st: st}
	}
	return fi
}
