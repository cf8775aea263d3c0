package docker

import (
	"reflect"
	"testing"

	"github.com/docker/docker/api/types/container"
)

func TestTopChanges(t *testing.T) {
	got := topChanges([]container.FilesystemChange{
		{Kind: container.ChangeModify, Path: "/tmp"},
		{Kind: container.ChangeAdd, Path: "/tmp/pwned"},
		{Kind: container.ChangeAdd, Path: "/tmp/dir"},
		{Kind: container.ChangeAdd, Path: "/tmp/dir/file"},
		{Kind: container.ChangeModify, Path: "/usr"},
		{Kind: container.ChangeModify, Path: "/usr/bin"},
		{Kind: container.ChangeModify, Path: "/usr/bin/find"},
		{Kind: container.ChangeDelete, Path: "/etc/motd"},
		{Kind: container.ChangeModify, Path: "/etc"},
	})
	want := []string{"/tmp/dir", "/tmp/pwned", "/usr/bin/find", "D /etc/motd"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("topChanges = %q, want %q", got, want)
	}
}
