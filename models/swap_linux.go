package models

import (
	"errors"

	"golang.org/x/sys/unix"
)

// exchange atomically swaps the directories a and b. It reports false when
// the file system does not support the exchange, so the caller falls back.
func exchange(a, b string) (bool, error) {
	err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EOPNOTSUPP):
		return false, nil
	default:
		return false, err
	}
}
