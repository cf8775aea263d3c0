package cli

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/doctor"
	"github.com/paddockhq/paddock/internal/store"
)

func newDoctorCmd(f *Factory) *cobra.Command {
	var asJSON, apparmor bool
	cmd := &cobra.Command{
		Use:   "doctor [--json]",
		Short: "Check what this host gives a sandbox, with the fix for each problem",
		Long: `doctor checks user namespaces, overlayfs, cgroups, seccomp, Landlock, subordinate ids, the
kernel and free disk, starts a throwaway sandbox, and lists the protections a sandbox gets here.
It exits non-zero when a sandbox could not be run safely.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if apparmor {
				if err := doctor.InstallAppArmorProfile(cmd.Context()); errors.Is(err, doctor.ErrNoProfileNeeded) {
					fmt.Fprintln(f.IO.Err, "paddock: "+err.Error())
					return nil
				} else if err != nil {
					return err
				}
				fmt.Fprintf(f.IO.Err, "paddock: installed and loaded %s: paddock may make user namespaces\n", doctor.AppArmorProfilePath)
				return nil
			}
			home, err := store.DefaultHome()
			if err != nil {
				return err
			}
			r := doctor.Run(cmd.Context(), home)
			m, err := f.Manager()
			r.AddStateFolder(home, err)
			if err == nil {
				r.AddDocker(cmd.Context(), m.Backends["docker"], m.Backend.Name())
			}
			if asJSON {
				if err := writeJSON(f.IO.Out, r); err != nil {
					return err
				}
			} else {
				printDoctor(f, r)
			}
			if !r.Safe {
				return withCode(ExitError, nil)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&apparmor, "install-apparmor-profile", false,
		"as root: install an AppArmor profile granting user namespaces to paddock (hosts restricting them, e.g. Ubuntu 24.04)")
	return cmd
}

func printDoctor(f *Factory, r doctor.Report) {
	out := f.IO.Out
	fmt.Fprintf(out, "paddock doctor: %s mode, %s %s; new sandboxes on the %s backend\n\n", r.Mode, osName(), r.Kernel, r.Backend)
	for _, c := range r.Checks {
		mark := "ok  "
		switch {
		case !c.OK && c.Required:
			mark = "FAIL"
		case !c.OK:
			mark = "warn"
		}
		fmt.Fprintf(out, "[%s] %s: %s\n", mark, c.Name, c.Detail)
		if !c.OK && c.Fix != "" {
			fmt.Fprintf(out, "       fix: %s\n", c.Fix)
		}
	}
	if len(r.Protections) > 0 {
		fmt.Fprintf(out, "\nA sandbox here gets:\n  - %s\n", strings.Join(r.Protections, "\n  - "))
	}
	if r.Safe {
		fmt.Fprintln(out, "\nSandboxes can run safely on this host.")
	} else {
		fmt.Fprintln(out, "\nSandboxes cannot run safely on this host until the FAIL lines are fixed.")
	}
}

func osName() string {
	switch runtime.GOOS {
	case "linux":
		return "Linux"
	case "darwin":
		return "macOS"
	case "windows":
		return "Windows"
	}
	return runtime.GOOS
}
