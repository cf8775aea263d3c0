// Package fsutil holds filesystem helpers shared by the engine and the stores.
package fsutil
