package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/credentials"
	"github.com/paddockhq/paddock/internal/sandbox"
	"github.com/paddockhq/paddock/internal/store"
)

func newSecretCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Manage the API keys handed to agents (" + strings.Join(credentials.Names, ", ") + ")",
		Long: `Secrets are kept in PADDOCK_HOME/secrets (mode 0600), outside every workspace and sandbox, and
handed to the agents that use them when they start (see ` + "`paddock agents`" + `).`,
		Args: usageArgs(cobra.NoArgs),
	}
	cmd.AddCommand(newSecretSetCmd(f), newSecretLsCmd(f), newSecretRmCmd(f))
	return cmd
}

func newSecretSetCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "set NAME",
		Short: "Store a secret, read from a hidden prompt (or from stdin when it is not a terminal)",
		Example: `  paddock secret set anthropic                         # type or paste the key at the prompt
  printf %s "$OPENAI_API_KEY" | paddock secret set openai`,
		Args: func(c *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return withCode(ExitUsage, fmt.Errorf("name the secret: paddock secret set %s", strings.Join(credentials.Names, "|")))
			case len(args) > 1:
				// Never echo what was given: it is probably the key.
				return withCode(ExitUsage, errors.New("paddock secret set takes the name only, never the value (it would stay in your shell history and process list): type the value at the prompt, or pipe it on stdin"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := credentials.Check(name); err != nil {
				return withCode(ExitUsage, err)
			}
			cs, err := f.Credentials()
			if err != nil {
				return err
			}
			value, err := readSecret(f, name)
			if err != nil {
				return err
			}
			if err := cs.Set(name, value); err != nil {
				return err
			}
			agents, _ := credentials.UsedBy(name)
			fmt.Fprintf(f.IO.Err, "paddock: secret %s saved; %s get it when they start\n", name, strings.Join(agents, ", "))
			return nil
		},
	}
}

// readSecret reads a value without echo from a terminal, or the whole of stdin otherwise.
func readSecret(f *Factory, name string) (string, error) {
	if IsTTY(f.IO.In) {
		fmt.Fprintf(f.IO.Err, "Value for %s (input is hidden): ", name)
		b, err := term.ReadPassword(int(f.IO.In.Fd()))
		fmt.Fprintln(f.IO.Err)
		if err != nil {
			return "", fmt.Errorf("reading the value: %w", err)
		}
		return string(b), nil
	}
	if f.IO.In == nil {
		return "", errors.New("no input: pipe the value on stdin")
	}
	b, err := io.ReadAll(io.LimitReader(bufio.NewReader(f.IO.In), 1<<16+1))
	if err != nil {
		return "", fmt.Errorf("reading the value from stdin: %w", err)
	}
	if len(b) > 1<<16 {
		return "", errors.New("the value on stdin is longer than 64 KiB; give the key alone")
	}
	return string(b), nil
}

type secretView struct {
	Name   string   `json:"name"`
	Agents []string `json:"agents"`
	Env    []string `json:"env"`
}

func newSecretLsCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls [--json]",
		Aliases: []string{"list"},
		Short:   "List the secrets that are set (names only)",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := f.Credentials()
			if err != nil {
				return err
			}
			names, err := cs.List()
			if err != nil {
				return err
			}
			views := []secretView{}
			for _, n := range names {
				agents, env := credentials.UsedBy(n)
				views = append(views, secretView{Name: n, Agents: agents, Env: env})
			}
			if asJSON {
				return writeJSON(f.IO.Out, views)
			}
			if !IsTTY(f.IO.OutFile) {
				for _, v := range views {
					fmt.Fprintln(f.IO.Out, v.Name)
				}
				return nil
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tAGENTS\tENV")
			for _, v := range views {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, strings.Join(v.Agents, ","), strings.Join(v.Env, ","))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newSecretRmCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME...",
		Aliases: []string{"remove"},
		Short:   "Remove secrets",
		Args:    usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := f.Credentials()
			if err != nil {
				return err
			}
			failed := 0
			for _, n := range args {
				if err := cs.Remove(n); err != nil {
					fmt.Fprintln(f.IO.Err, "paddock: "+oneLine(err.Error()))
					failed++
					continue
				}
				fmt.Fprintln(f.IO.Out, n)
			}
			if failed > 0 {
				return withCode(ExitError, nil)
			}
			return nil
		},
	}
}

// agentKeys is the environment that gives a sandbox's agent its keys, decided by the secret
// store (credentials.Store.Grant); it travels in the exec request only.
func agentKeys(f *Factory, rec *store.Record, a agent.Agent) ([]string, error) {
	if len(a.Info().Keys) == 0 {
		return nil, nil
	}
	cs, err := f.Credentials()
	if err != nil {
		return nil, err
	}
	env, err := cs.AgentEnv(rec.ID, a)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", sandbox.ErrBadInput, err)
	}
	return env, nil
}
