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

	"github.com/paddockhq/paddock/internal/credentials"
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
	var endpoint string
	cmd := &cobra.Command{
		Use:   "set NAME [--endpoint URL]",
		Short: "Store a secret, read from a hidden prompt (or from stdin when it is not a terminal)",
		Long: `Store a secret, read from a hidden prompt (or from stdin when it is not a terminal).

--endpoint sends the service's requests to URL instead of its default API hosts (a company
gateway, a local model server): paddock points the agents at it (ANTHROPIC_BASE_URL, Codex's
openai_base_url, GOOGLE_GEMINI_BASE_URL), allows it in the sandboxes' policy, and the egress proxy
puts the key into the requests sent there. https:// anywhere, http:// on loopback only.
--endpoint default goes back to the default hosts; without --endpoint the endpoint stays.`,
		Example: `  paddock secret set anthropic                         # type or paste the key at the prompt
  printf %s "$OPENAI_API_KEY" | paddock secret set openai
  paddock secret set anthropic --endpoint https://llm-gateway.corp.example/anthropic
  paddock secret set openai --endpoint http://127.0.0.1:8000/v1     # a local server`,
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
			setEndpoint := cmd.Flags().Changed("endpoint")
			if setEndpoint && endpoint != "default" {
				ep, err := credentials.CheckEndpoint(endpoint)
				if err != nil {
					return withCode(ExitUsage, fmt.Errorf("--endpoint: %w", err))
				}
				endpoint = ep
			} else if endpoint == "default" {
				endpoint = ""
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
			if setEndpoint {
				if err := cs.SetEndpoint(name, endpoint); err != nil {
					return err
				}
			}
			agents, _ := credentials.UsedBy(name)
			where := ""
			if ep, _ := cs.Endpoint(name); ep != "" {
				where = ", for " + ep
			}
			fmt.Fprintf(f.IO.Err, "paddock: secret %s saved%s; %s get it when they start\n", name, where, strings.Join(agents, ", "))
			return nil
		},
	}
	cmd.Flags().StringVar(&endpoint, "endpoint", "", "send the service's requests to this URL (a gateway or local server; `default` for the service's own hosts)")
	return cmd
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
	Name     string   `json:"name"`
	Agents   []string `json:"agents"`
	Env      []string `json:"env"`
	Endpoint string   `json:"endpoint,omitempty"`
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
				ep, err := cs.Endpoint(n)
				if err != nil {
					return err
				}
				views = append(views, secretView{Name: n, Agents: agents, Env: env, Endpoint: ep})
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
			fmt.Fprintln(tw, "NAME\tAGENTS\tENV\tENDPOINT")
			for _, v := range views {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Name, strings.Join(v.Agents, ","), dash(strings.Join(v.Env, ",")), dash(v.Endpoint))
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
			return forEach(f, args, func(n string) error {
				err := cs.Remove(n)
				if err == nil {
					fmt.Fprintln(f.IO.Out, n)
				}
				return err
			})
		},
	}
}
