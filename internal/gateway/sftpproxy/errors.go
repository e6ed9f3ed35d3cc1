package sftpproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/pkg/sftp"
)

// statusError is an error with the SFTP status code the client gets and
// the message it may show. pkg/sftp finds the code by unwrapping, and
// sends Error() as the status message.
type statusError struct {
	msg  string
	code error // one of the sftp.ErrSSHFx* values
}

func (e *statusError) Error() string { return e.msg }
func (e *statusError) Unwrap() error { return e.code }

func newStatus(code error, format string, args ...any) error {
	return &statusError{msg: fmt.Sprintf(format, args...), code: code}
}

// errDenied refuses an operation with SSH_FX_PERMISSION_DENIED.
func errDenied(format string, args ...any) error {
	return newStatus(sftp.ErrSSHFxPermissionDenied, "postern: "+format, args...)
}

// errMissing is SSH_FX_NO_SUCH_FILE for a path of the virtual tree. It
// says the same for an asset that does not exist and one the operator may
// not reach, so the tree reveals nothing beyond the operator's reach.
func errMissing(p string) error {
	return newStatus(sftp.ErrSSHFxNoSuchFile, "postern: %s: no such asset or system user, or you may not reach it", p)
}

// fromTarget turns an error of the client to a target into one the
// operator's client gets with the right status code.
func fromTarget(err error) error {
	if err == nil || err == io.EOF {
		// Only the bare io.EOF is a file's end; a wrapped one is a
		// connection that closed, handled below.
		return err
	}
	var st *sftp.StatusError
	if errors.As(err, &st) {
		return &statusError{msg: err.Error(), code: st.FxCode()}
	}
	code := sftp.ErrSSHFxOk
	if errors.As(err, &code) {
		if code == sftp.ErrSSHFxConnectionLost {
			return newStatus(code, "postern: lost the connection to the target")
		}
		return &statusError{msg: err.Error(), code: code}
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return newStatus(sftp.ErrSSHFxNoSuchFile, "no such file or directory")
	case errors.Is(err, os.ErrPermission):
		return newStatus(sftp.ErrSSHFxPermissionDenied, "permission denied (on the target)")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrClosedPipe):
		return newStatus(sftp.ErrSSHFxConnectionLost, "postern: lost the connection to the target")
	}
	return newStatus(sftp.ErrSSHFxFailure, "%s", err.Error())
}
