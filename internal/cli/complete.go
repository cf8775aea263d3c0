package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/credentials"
	"github.com/paddockhq/paddock/internal/sandbox"
	"github.com/paddockhq/paddock/internal/store"
	"github.com/paddockhq/paddock/internal/volume"
)

// Shell completion: cobra's `paddock completion bash|zsh|fish|powershell` scripts call back into
// paddock (`__complete`), which answers from the state on disk: sandbox, agent, volume and secret
// names, and the values flags take. Nothing here takes a lock or starts anything.

// completeWith answers a completion request with names, filtered by what was typed.
func completeWith(names func() []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []cobra.Completion
		for _, n := range names() {
			if strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// firstArg completes only the first positional argument (exec SANDBOX COMMAND...).
func firstArg(fn cobra.CompletionFunc) cobra.CompletionFunc {
	return func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return fn(c, args, toComplete)
	}
}

func sandboxNames() []string {
	home, err := store.DefaultHome()
	if err != nil {
		return nil
	}
	st, err := store.Open(home)
	if err != nil {
		return nil
	}
	recs, _, _ := st.List()
	var out []string
	for _, r := range recs {
		out = append(out, r.Name)
	}
	return out
}

func volumeNames() []string {
	home, err := store.DefaultHome()
	if err != nil {
		return nil
	}
	vols, _ := (&volume.Store{Root: filepath.Join(home, "volumes")}).List()
	var out []string
	for _, v := range vols {
		out = append(out, v.Name)
	}
	return out
}

func agentOrSandbox() []string { return append(agent.Names(), sandboxNames()...) }

func fixed(vals ...string) func() []string { return func() []string { return vals } }

// addCompletion wires completions into the command tree built by NewRootCmd.
func addCompletion(root *cobra.Command) {
	sandboxes := completeWith(sandboxNames)
	args := map[string]cobra.CompletionFunc{
		"run":            firstArg(completeWith(agentOrSandbox)),
		"create":         firstArg(completeWith(agent.Names)),
		"exec":           firstArg(sandboxes),
		"start":          sandboxes,
		"stop":           sandboxes,
		"rm":             sandboxes,
		"inspect":        sandboxes,
		"move":           firstArg(sandboxes),
		"policy log":     firstArg(sandboxes),
		"volume inspect": completeWith(volumeNames),
		"volume rm":      completeWith(volumeNames),
		"secret set":     firstArg(completeWith(fixed(credentials.Names...))),
		"secret rm":      completeWith(fixed(credentials.Names...)),
	}
	flags := map[string]cobra.CompletionFunc{
		"network":      completeWith(fixed(sandbox.NetworkLocked, sandbox.NetworkBalanced, sandbox.NetworkOpen)),
		"backend":      completeWith(fixed(sandbox.BackendNames...)),
		"pull":         completeWith(fixed("always", "missing", "never")),
		"agent-config": completeWith(fixed("host", "none")),
		"sandbox":      sandboxes,
		"template":     completeWith(fixed("host")),
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.TrimPrefix(strings.TrimPrefix(c.CommandPath(), root.Name()), " ")
		if fn, ok := args[path]; ok && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = fn
		}
		for name, fn := range flags {
			if c.LocalFlags().Lookup(name) != nil || (c == root && c.PersistentFlags().Lookup(name) != nil) {
				c.RegisterFlagCompletionFunc(name, fn)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// unknownCommand rewrites cobra's "unknown command" error (several lines, with its suggestions)
// as one line, a usage error.
func unknownCommand(root *cobra.Command, err error) error {
	if err == nil || !strings.HasPrefix(err.Error(), "unknown command ") {
		return err
	}
	var typed string
	fmt.Sscanf(strings.TrimPrefix(err.Error(), "unknown command "), "%q", &typed)
	msg := fmt.Sprintf("unknown command %q", typed)
	root.DisableSuggestions = false
	defer func() { root.DisableSuggestions = true }()
	if s := root.SuggestionsFor(typed); len(s) > 0 {
		msg += "; did you mean " + orList(s) + "?"
	}
	return withCode(ExitUsage, fmt.Errorf("%s (see `paddock --help`)", msg))
}

// orList is "a", "a or b", "a, b or c".
func orList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

func newManCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "man [DIR]",
		Short: "Write paddock's manual pages (paddock.1, paddock-run.1, ...) into DIR, or print paddock(1)",
		Example: `  paddock man                                  # paddock(1) on stdout
  sudo paddock man /usr/local/share/man/man1   # every page, for man paddock-run`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.Manual == nil {
				return errors.New("this paddock cannot write manual pages")
			}
			if len(args) == 0 {
				return f.Manual(cmd.Root(), Version, "", f.IO.Out)
			}
			st, err := os.Stat(args[0])
			if err != nil || !st.IsDir() {
				return withCode(ExitUsage, fmt.Errorf("%s is not a folder: name an existing folder for the pages", args[0]))
			}
			if err := f.Manual(cmd.Root(), Version, args[0], f.IO.Out); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Err, "paddock: wrote the manual pages into %s\n", args[0])
			return nil
		},
	}
}
