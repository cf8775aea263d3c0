package systemd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// connect opens a connection to the manager of this process's user: the system manager (its
// private socket, no bus daemon needed) for root, the user's own manager otherwise.
func connect(ctx context.Context) (*sd.Conn, error) {
	if os.Geteuid() == 0 {
		if !Booted() {
			return nil, fmt.Errorf("%w: systemd is not this host's init", ErrUnavailable)
		}
		c, err := sd.NewSystemdConnectionContext(ctx)
		if err != nil {
			c, err = sd.NewSystemConnectionContext(ctx)
		}
		if err != nil {
			return nil, fmt.Errorf("connecting to systemd: %w", err)
		}
		return c, nil
	}
	if err := UserManager(); err != nil {
		return nil, err
	}
	c, err := sd.NewUserConnectionContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to the systemd user manager: %w", err)
	}
	return c, nil
}

// StartScope asks the manager for a transient scope unit named unit, in Slice, holding the
// process pid, with Delegate=yes (the cgroup subtree below the scope is the caller's to manage)
// and waits until it runs. A unit of that name left failed by an earlier run is reset first.
func StartScope(ctx context.Context, unit, description string, pid int) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c, err := connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	props := []sd.Property{
		sd.PropDescription(description),
		sd.PropSlice(Slice),
		sd.PropPids(uint32(pid)),
		{Name: "Delegate", Value: dbus.MakeVariant(true)},
		// Gone once it ends, failed or not: the next start of the sandbox reuses the name.
		{Name: "CollectMode", Value: dbus.MakeVariant("inactive-or-failed")},
	}
	for attempt := 0; ; attempt++ {
		done := make(chan string, 1)
		_, err = c.StartTransientUnitContext(ctx, unit, "fail", props, done)
		if err != nil && attempt < 50 && strings.Contains(err.Error(), "already exists") {
			// The scope of an earlier run (its supervisor has exited, or is exiting: the lock it
			// held is free) that systemd has not collected yet.
			if attempt == 0 {
				c.ResetFailedUnitContext(ctx, unit)
				c.StopUnitContext(ctx, unit, "replace", nil)
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if err != nil {
			return fmt.Errorf("asking systemd for the scope %s: %w", unit, err)
		}
		select {
		case res := <-done:
			if res != "done" {
				return fmt.Errorf("systemd could not start the scope %s: job %s", unit, res)
			}
			return nil
		case <-ctx.Done():
			return fmt.Errorf("systemd did not start the scope %s: %w", unit, ctx.Err())
		}
	}
}

// EnableLinger asks logind to keep this user's manager running without a login session, as
// `loginctl enable-linger` does (without interaction: where the host's policy wants a password,
// it fails).
func EnableLinger(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("connecting to the system bus: %w", err)
	}
	defer conn.Close()
	obj := conn.Object("org.freedesktop.login1", "/org/freedesktop/login1")
	call := obj.CallWithContext(ctx, "org.freedesktop.login1.Manager.SetUserLinger", 0, uint32(os.Geteuid()), true, false)
	if call.Err != nil {
		var de dbus.Error
		if errors.As(call.Err, &de) {
			return fmt.Errorf("logind refused: %s", strings.Join(append([]string{de.Name}, errStrings(de.Body)...), ": "))
		}
		return fmt.Errorf("logind: %w", call.Err)
	}
	return nil
}

func errStrings(body []any) []string {
	var out []string
	for _, b := range body {
		if s, ok := b.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
