//go:build !unix

package store

import "errors"

func lockFile(string) (func(), error) { return nil, errors.New("file locks need a Unix system") }
